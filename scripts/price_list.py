"""The AWS Price List API's GetProducts, which moto lacks (a signed `pricing` request crashes its
dispatcher with "Unable to find appropriate backend"): answered, as AWS documents it, from the
replies in scripts/price-list/<ServiceCode>.json. Loaded by moto_patches, so both the tests' moto
server and scripts/aws-sandbox answer it.

- Filters: TERM_MATCH and EQUALS (the attribute has exactly the value), CONTAINS, ANY_OF and NONE_OF
  (comma-separated values), on the product's attributes and its productFamily and sku.
- MaxResults 1..100 (100 when absent), NextToken paging; each PriceList entry is a JSON string.
- A missing ServiceCode, a bad filter or MaxResults, or an unknown NextToken is a 400
  ValidationException / InvalidNextTokenException in AWS's JSON error form; a service with no
  reply file answers no products.
"""

import json
import os

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "price-list")
TARGET_PREFIX = "AWSPriceListService."
MAX_RESULTS = 100
FILTER_TYPES = {"TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF"}
CALLS = []  # (operation, service code, filters): what was asked, for a reader of the log


class PriceListError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _products(service_code):
    path = os.path.join(FIXTURES, f"{service_code}.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def _attribute(product, field):
    if field == "productFamily":
        return product["product"].get("productFamily")
    if field == "sku":
        return product["product"].get("sku")
    return product["product"]["attributes"].get(field)


def _matches(product, filters):
    for f in filters:
        value = _attribute(product, f["Field"])
        wanted = f["Value"]
        kind = f["Type"]
        if kind in ("TERM_MATCH", "EQUALS") and value != wanted:
            return False
        if kind == "CONTAINS" and (value is None or wanted not in value):
            return False
        if kind == "ANY_OF" and value not in [v.strip() for v in wanted.split(",")]:
            return False
        if kind == "NONE_OF" and value in [v.strip() for v in wanted.split(",")]:
            return False
    return True


def get_products(request):
    service_code = request.get("ServiceCode")
    if not service_code:
        raise PriceListError("ValidationException", "1 validation error detected: Value null at 'serviceCode' failed to satisfy constraint: Member must not be null")
    filters = request.get("Filters") or []
    for f in filters:
        if f.get("Type") not in FILTER_TYPES or not f.get("Field") or f.get("Value") is None:
            raise PriceListError("ValidationException", f"Invalid filter {json.dumps(f)}: Type must be one of {sorted(FILTER_TYPES)}, with a Field and a Value")
    max_results = request.get("MaxResults", MAX_RESULTS)
    if not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
        raise PriceListError("ValidationException", f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_RESULTS}")
    CALLS.append(("GetProducts", service_code, filters))
    matching = [p for p in _products(service_code) if _matches(p, filters)]
    token = request.get("NextToken")
    start = 0
    if token:
        if not token.startswith("pl-") or not token[3:].isdigit():
            raise PriceListError("InvalidNextTokenException", "The pagination token is invalid. Try again without a pagination token.")
        start = int(token[3:])
    page = matching[start:start + max_results]
    answer = {"FormatVersion": request.get("FormatVersion", "aws_v1"), "PriceList": [json.dumps(p) for p in page]}
    if start + max_results < len(matching):
        answer["NextToken"] = f"pl-{start + max_results}"
    return answer


OPERATIONS = {"GetProducts": get_products}

_dispatch = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if not target.startswith(TARGET_PREFIX):
        return _dispatch(self, environ, start_response)
    operation = target[len(TARGET_PREFIX):]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b"{}"
    try:
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise PriceListError("UnknownOperationException", f"{operation} is not an operation of the Price List API here")
        status, body = "200 OK", handler(json.loads(raw or b"{}"))
    except PriceListError as e:
        status, body = "400 Bad Request", {"__type": f"com.amazonaws.awspricelist#{e.code}", "message": e.message}
    except json.JSONDecodeError as e:
        status, body = "400 Bad Request", {"__type": "SerializationException", "message": str(e)}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))])
    return [data]


DomainDispatcherApplication.__call__ = _call
