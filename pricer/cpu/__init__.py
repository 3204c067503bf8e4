"""The CPU pricer: a small linear model over hashed n-grams that prices products offline, fast.

    from pricer.cpu import load_model
    model = load_model()                      # the shipped model (pricer/models/cpu)
    model.predict(["Delphi FG0166 Fuel Pump Module\\n..."])[0]  # Estimate(price, low, high)

features (text -> hashed rows), model (weights, predict, safe save/load), training (datasets ->
model + card). Importing this package imports no numpy, scipy or scikit-learn.
"""

from pricer.cpu.model import SHIPPED, CpuModel, Estimate, load_model, save_model
from pricer.cpu.training import Figures, figures, train

__all__ = ["SHIPPED", "CpuModel", "Estimate", "Figures", "figures", "load_model", "save_model", "train"]
