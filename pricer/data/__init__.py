"""The data pipeline: raw record -> Item -> prompt -> pricer dataset.

readers (JSONL and CSV files read one way, with their errors), items (the course's curation of
one record, and the pasted-text -> prompt step every pricer takes), curate (raw Amazon Reviews
2023 metadata -> curated items, in parallel), datasets (curated items -> the train/test pricer
dataset, saved, pushed, and loaded from anywhere; the test items a pricer is judged on). It may
import the ground floor and pricer.tokenizer; nothing above (pricers, evaluation) and no model.
"""
