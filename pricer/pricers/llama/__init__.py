"""The 4-bit Llama 3.1 8B with the course's QLoRA adapter (or without): load, price, check, train.

model (ModelSpec: which model to run; the loaded models; one generate call per batch -> a
Prediction with every estimate), backbone (a base model in 4 or 8 bits, an adapter attached),
preflight (can it load here? asked without loading anything), tiny (a random-weight test model
with the real tokenizer), pricer (LlamaPricer: the one road from texts to Llama prices); and
training your own adapter: recipe (the course's hyperparameters, the items as prompt/completion,
the plan), training (TRL's SFTTrainer over peft and bitsandbytes), checkpoints (resuming, the
hub). It may import the ground floor, pricer.tokenizer, pricer.data, pricer.pricers.base and
estimates; torch, transformers, peft, trl and bitsandbytes only inside functions.
"""
