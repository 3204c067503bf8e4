"""The CPU pricer: a small linear model over hashed n-grams that prices products offline, fast.

    from pricer.pricers.cpu.model import load_model
    model = load_model()                      # the shipped model (pricer/pricers/cpu/shipped)
    model.predict(["Delphi FG0166 Fuel Pump Module\\n..."])[0]  # Estimate(price, low, high)

features (text -> hashed rows), model (weights, predict, safe save/load), training (datasets ->
model + card), pricer (CpuPricer: the model on the pricers' interface); shipped/ is the trained
model with its card. It may import the ground floor, pricer.data and pricer.metrics, and
pricer.pricers.base; importing it imports no numpy, scipy or scikit-learn.
"""
