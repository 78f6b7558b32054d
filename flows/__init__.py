"""Prefect flows of paperfeed (installed as the package `paperfeed_flows`)."""
