"""Pricers that ask an OpenAI-compatible chat model, and the OpenAI fine-tuning files and job.

client (batched chat requests: base URL, key, retries, cache, redacted errors), cost (what a run
will cost), frontier (the course's question to a frontier model), rag_index and embeddings (the
similar training items, all-MiniLM-L6-v2), rag (the question with those items), finetune (the
course's fine-tuning JSONL), finetune_job (upload, start and follow a job), pricer (ChatPricer:
frontier or RAG on the pricers' interface). It may import the ground floor, pricer.data,
pricer.pricers.base and estimates; openai, numpy and sentence-transformers only inside functions.
"""
