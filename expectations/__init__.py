"""Data-quality suites (Great Expectations JSON), one per stage or table; installed as `paperfeed_expectations`."""
