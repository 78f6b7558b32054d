"""paperfeed: a curated, versioned dataset of the Hugging Face trending-papers feed."""

__version__ = "0.1.0"
