"""Schemathesis hooks for ``test_api_schema.py``: ``positive_data_acceptance`` except for the
refusals of ``POST /explain`` and ``POST /intervene`` that depend on the model (or the text's
length) and so cannot be in the schema."""
import re

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

# A text of which the model knows no word, a target that is not one of the model's classes.
MODEL_DEPENDENT = re.compile(r"None of these words are in the model's vocabulary|is not a class of model")
# /intervene: a gate the cell lacks, a layer, direction, unit or token the model or text does not
# have, a lesson's word missing from the text or a cell without gates, numbers that overflow.
INTERVENE_DEPENDENT = re.compile(r"has no '\w+' to change|layer \d+ does not exist|needs a bidirectional model|"
                                 r"units must be in|token positions must be in|the text has no '|a plain RNN has none|"
                                 r"numbers overflow")


@schemathesis.check
def positive_data_acceptance_model_aware(ctx, response, case):
    """Schema-valid requests must be accepted, unless ``/explain`` refuses them for the model's
    vocabulary or classes (answered 422, as the schema's 422 description says)."""
    if case.operation.path == "/explain" and response.status_code == 422 \
            and MODEL_DEPENDENT.search(response.json().get("detail", "")):
        return None
    if case.operation.path == "/intervene" and response.status_code == 422 and (
            MODEL_DEPENDENT.search(detail := response.json().get("detail", "")) or INTERVENE_DEPENDENT.search(detail)):
        return None
    return positive_data_acceptance(ctx, response, case)
