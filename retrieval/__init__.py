"""Query pipeline: access filter -> dense/sparse/graph search -> fusion -> prompt -> answer.

Never imports ingestion; no Django views here.
"""
