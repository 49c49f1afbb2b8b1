"""moto's gaps that fetchbench's template meets, patched wherever it runs emulated: the tests'
moto server (controller/tests/moto) and scripts/aws-sandbox import this module before serving.

- AWS::KMS::Key in a CloudFormation template: moto hands its Tags (Key/Value, as CloudFormation
  writes them) to KMS's CreateKey, which wants TagKey/TagValue (KeyError), and keeps its
  KeyPolicy as a mapping where KMS calls expect JSON text (DescribeKey fails). Both are given in
  the form moto's KMS expects; the key is otherwise moto's own.
"""

import json

from moto.kms import models as kms_models

_key_from_cloudformation = kms_models.Key.create_from_cloudformation_json.__func__


def _key_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = dict(cloudformation_json.get("Properties", {}))
    props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])]
    if not isinstance(props.get("KeyPolicy"), str):
        props["KeyPolicy"] = json.dumps(props.get("KeyPolicy"))
    json_ = dict(cloudformation_json, Properties=props)
    return _key_from_cloudformation(cls, resource_name, json_, account_id, region_name, **kwargs)


kms_models.Key.create_from_cloudformation_json = classmethod(_key_from_cloudformation_json)
