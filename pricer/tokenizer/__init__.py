"""What a tokenizer does to a text: load it, encode, decode, split, look up, template.

loading (a tokenizer by hub id or folder, with the offline Llama 3.1 fallback), offline_llama
(the Llama 3.1 tokenizer built from Meta's ranks shipped in llama-3.1-tokenizer/), llama_bpe
(Llama 3's BPE over those ranks, for fast curation), tokens (encode, decode, pieces, numbers,
chat templates), vocab (the vocabulary: specials, lookup, typed ids, batch_decode), comparison
(other tokenizers side by side), chat_template
(an untrusted Jinja chat template rendered in a bounded child process). It may import only the
ground floor (errors, config, atomic, hub); it knows nothing of products or prices.
"""
