"""Ingestion: loaders turn files into located sections, chunking turns sections into chunks, workers run both."""
