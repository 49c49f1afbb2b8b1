"""moto's gaps that fetchbench's template meets, patched wherever it runs emulated: the tests'
moto server (controller/tests/moto) and scripts/aws-sandbox import this module before serving.

- AWS::KMS::Key in a CloudFormation template: moto hands its Tags (Key/Value, as CloudFormation
  writes them) to KMS's CreateKey, which wants TagKey/TagValue (KeyError), and keeps its
  KeyPolicy as a mapping where KMS calls expect JSON text (DescribeKey fails). Both are given in
  the form moto's KMS expects; the key is otherwise moto's own.
- AWS::EC2::RouteTable in a template: moto never deletes it with its stack (the model has no
  delete), so the VPC it belongs to keeps two route tables and DeleteStack fails with
  "DependencyViolation: The vpc ... has dependencies", which AWS does not. Deleting the stack now
  deletes the route table, as CloudFormation does.
"""

import json

from moto.ec2 import models as ec2_models
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


def _route_table_delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
    backend = ec2_models.ec2_backends[account_id][region_name]
    if resource_name in backend.route_tables:
        backend.delete_route_table(resource_name)


ec2_models.route_tables.RouteTable.delete_from_cloudformation_json = classmethod(
    _route_table_delete_from_cloudformation_json
)
