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
- DescribeStacks answers a parameter of an `AWS::SSM::Parameter::Value<...>` type with the value
  it resolved (an AMI id) as ParameterValue; AWS answers the SSM parameter's name there and the
  resolved value as ResolvedValue, and `provision` compares what it would send with the former.
- A stack update that changes the properties of every tagged resource (as `provision
  --expires-in` does, through the fetchbench:expires-at tag): moto forgets a resource whose type
  has no update of its own (a subnet, a VPC), so that a Ref to it becomes null, and it deletes and
  creates again an `AWS::AutoScaling::AutoScalingGroup`, which fails on the second pass. AWS
  updates both in place; so do these patches (the resource is kept, the group is given its new
  sizes, launch template and tags; a resource whose condition is false is left unmade, or
  deleted when it was made before: the cache when `--cache` changes its kind). moto's
  in-place update of a bucket without a BucketName property reads that property: it is given
  the bucket's own name. moto replaces a security group on any change, which leaves the launch
  template naming a deleted group; AWS replaces one only for a new description or VPC, and so
  does this patch (otherwise the group is kept as it is: its rules are not updated).
- The AWS Price List API (GetProducts), which moto has not at all: scripts/price_list.py answers
  it from saved replies in scripts/price-list/.
"""

import json

from moto.ec2 import models as ec2_models
from moto.autoscaling import models as autoscaling_models
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing as cloudformation_parsing
from moto.ec2.models import security_groups as ec2_security_groups
from moto.kms import models as kms_models
from moto.s3 import models as s3_models

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


def _parameter_list(self):
    resource_map = self.resource_map
    slots = resource_map._template.get("Parameters", {})
    parameters = []
    for key, value in resource_map.resolved_parameters.items():
        parameter = {"ParameterKey": key, "ParameterValue": value}
        if key in resource_map.no_echo_parameter_keys:
            parameter["ParameterValue"] = "****"
        elif slots.get(key, {}).get("Type", "").startswith("AWS::SSM::Parameter::Value"):
            given = resource_map.input_parameters.get(key, slots[key].get("Default"))
            parameter = {"ParameterKey": key, "ParameterValue": given, "ResolvedValue": value}
        parameters.append(parameter)
    return parameters


cloudformation_models.Stack.parameter_list = property(_parameter_list)


def _group_from_cloudformation_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json["Properties"]

    def number(key):  # CloudFormation hands a Ref to a Number parameter over as text
        value = props.get(key)
        return None if value is None else int(value)

    backend = autoscaling_models.autoscaling_backends[account_id][region_name]
    name = original_resource.name
    backend.update_auto_scaling_group(
        name=name,
        availability_zones=props.get("AvailabilityZones", []),
        desired_capacity=number("DesiredCapacity"),
        max_size=number("MaxSize"),
        min_size=number("MinSize"),
        launch_config_name=props.get("LaunchConfigurationName"),
        launch_template=props.get("LaunchTemplate", {}),
        vpc_zone_identifier=",".join(props.get("VPCZoneIdentifier", [])) or None,
        health_check_period=props.get("HealthCheckGracePeriod"),
        health_check_type=props.get("HealthCheckType"),
    )
    tags = [dict(t, ResourceId=name, ResourceType="auto-scaling-group") for t in props.get("Tags", [])]
    backend.create_or_update_tags(tags)
    return backend.autoscaling_groups[name]


autoscaling_models.FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(_group_from_cloudformation_update)


_parse_and_update_resource = cloudformation_parsing.parse_and_update_resource


def _parse_and_update_resource_in_place(logical_id, resource_json, resources_map, account_id, region_name):
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None  # not made now (one made before is deleted by _update_deleting_turned_off)
    updated = _parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
    return updated if updated is not None else resources_map[logical_id]


cloudformation_parsing.parse_and_update_resource = _parse_and_update_resource_in_place


_resource_map_update = cloudformation_parsing.ResourceMap.update


def _update_deleting_turned_off(self, template, parameters=None):
    """moto updates only the resources whose own text or parameters changed, so one whose
    condition turned false (a parameter its condition reads) stays: AWS deletes it."""
    _resource_map_update(self, template, parameters)
    for logical_id, resource_json in template.get("Resources", {}).items():
        condition = resource_json.get("Condition")
        if not condition or self.lazy_condition_map[condition]:
            continue
        made = self._parsed_resources.get(logical_id)
        if made is not None and not isinstance(made, str):
            self._delete_resource(made, resource_json)
            del self._parsed_resources[logical_id]  # made again when its condition turns back


cloudformation_parsing.ResourceMap.update = _update_deleting_turned_off


_bucket_update = s3_models.FakeBucket.update_from_cloudformation_json.__func__


def _bucket_update_in_place(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = dict(cloudformation_json.get("Properties", {}))
    props.setdefault("BucketName", original_resource.name)
    json_ = dict(cloudformation_json, Properties=props)
    return _bucket_update(cls, original_resource, new_resource_name, json_, account_id, region_name)


s3_models.FakeBucket.update_from_cloudformation_json = classmethod(_bucket_update_in_place)


_security_group_update = ec2_security_groups.SecurityGroup.update_from_cloudformation_json.__func__


def _security_group_update_in_place(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json.get("Properties", {})
    if props.get("GroupDescription") == original_resource.description and props.get("VpcId") == original_resource.vpc_id:
        return original_resource
    return _security_group_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)


ec2_security_groups.SecurityGroup.update_from_cloudformation_json = classmethod(_security_group_update_in_place)


import price_list  # noqa: E402, F401 - beside this file: the Price List API's GetProducts
