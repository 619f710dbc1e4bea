"""What the tests share: one home for each helper, imported from here and never copied."""
