"""What every benchmark shares: the run's environment and machine, the HTML corpora, the dev
set, and the metrics computed by more than one benchmark."""
