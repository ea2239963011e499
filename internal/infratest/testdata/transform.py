#!/usr/bin/env python3
"""Transform a SAM template into plain CloudFormation JSON, offline.

Usage: python3 transform.py path/to/template.yaml [Name=Value ...] > transformed.json

- Local CodeUri values (e.g. ".") are rewritten to s3://bucket/<LogicalId>.zip, which is what
  `sam package` would do; the translator refuses local paths.
- The translator wants a managed-policy loader that lists AWS managed policies through IAM
  (network). StubManagedPolicyLoader answers from a fixed map instead: SAM only consults it to turn
  a managed policy *name* given in a function's Policies into an ARN. The policies SAM attaches on
  its own (AWSLambdaBasicExecutionRole, AWSLambdaDynamoDBExecutionRole, AWSXrayWriteOnlyAccess)
  are built as ARNs directly and never go through it.
- Parameter values are handed to the translator the way CloudFormation hands them to the
  AWS::Serverless transform: every parameter with a Default (or a Name=Value override on the
  command line), CommaDelimitedList / List<...> values split on commas into lists. (Left to its
  own defaults the translator would keep "a,b" as one string, e.g. in HttpApi CORS AllowOrigins.)
- The region is pinned (us-east-1) so the partition lookup never depends on the machine.

On a translation error the messages go to stderr and the exit status is 1.
"""
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Never read a developer's AWS configuration or credentials: nothing here needs them.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

SERVERLESS_TYPES_WITH_CODE = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


class StubManagedPolicyLoader:
    """Offline stand-in for samtranslator's ManagedPolicyLoader (which pages IAM ListPolicies)."""

    NAMES = [
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaDynamoDBExecutionRole",
        "AWSXrayWriteOnlyAccess",
        "AmazonDynamoDBReadOnlyAccess",
    ]

    def load(self):
        return {name: "arn:aws:iam::aws:policy/" + name for name in self.NAMES}


def rewrite_code_uris(template):
    for logical_id, res in (template.get("Resources") or {}).items():
        prop = SERVERLESS_TYPES_WITH_CODE.get(res.get("Type"))
        if not prop:
            continue
        props = res.setdefault("Properties", {})
        uri = props.get(prop)
        if uri is None or (isinstance(uri, str) and not uri.startswith("s3://")):
            props[prop] = "s3://bucket/%s.zip" % logical_id
    return template


def is_list_type(param_type):
    return param_type == "CommaDelimitedList" or str(param_type).startswith("List<")


def parameter_values(template, overrides):
    values = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            continue
        if is_list_type(spec.get("Type")) and isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        values[name] = value
    return values


def main(argv):
    if len(argv) < 2:
        print("usage: transform.py TEMPLATE [Name=Value ...]", file=sys.stderr)
        return 2
    overrides = {}
    for arg in argv[2:]:
        name, sep, value = arg.partition("=")
        if not sep:
            print("bad parameter override %r (want Name=Value)" % arg, file=sys.stderr)
            return 2
        overrides[name] = value
    with open(argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    rewrite_code_uris(template)
    try:
        out = transform(template, parameter_values(template, overrides), StubManagedPolicyLoader())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print("transform error: " + cause.message, file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
