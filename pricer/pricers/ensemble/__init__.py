"""The ensemble: the other pricers' estimates combined with weights fitted on items none of them was
trained on, as the course's week-8 EnsembleAgent did ($52.86 on the 250 test items).

weights (the fit for every subset of members, log or dollar space by cross-validation, combining,
the sha256-checked weights file and its card: arithmetic and a file) and pricer (running the
members through a lookup its caller gives, `fit_members`, EnsemblePricer). It may import the
ground floor, pricer.data, pricer.metrics and pricer.pricers.base; never a kind of pricer or the
registry, which hands it the members. This file only re-exports.
"""

from pricer.pricers.ensemble.pricer import (
    DEFAULT_MEMBERS,
    VALIDATION_SIZE,
    VALIDATION_START,
    EnsemblePricer,
    Lookup,
    fit_line,
    fit_members,
    member_spec,
    run_members,
)
from pricer.pricers.ensemble.weights import (
    FOLDS,
    FORMAT,
    KIND,
    SPACES,
    Combined,
    EnsembleWeights,
    Fit,
    card_markdown,
    combine,
    content_digest,
    default_path,
    features,
    fit,
    load,
    predict,
    save,
    weights_payload,
)

__all__ = ['Combined', 'DEFAULT_MEMBERS', 'EnsemblePricer', 'EnsembleWeights', 'FOLDS', 'FORMAT', 'Fit', 'KIND', 'Lookup', 'SPACES', 'VALIDATION_SIZE', 'VALIDATION_START', 'card_markdown', 'combine', 'content_digest', 'default_path', 'features', 'fit', 'fit_line', 'fit_members', 'load', 'member_spec', 'predict', 'run_members', 'save', 'weights_payload']
