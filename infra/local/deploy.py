"""Deploys infra/template.yaml into the local stack, the way `sam deploy` would into AWS.

The SAM template is translated offline by aws-sam-translator (the library SAM itself uses),
after the one step `sam package` would do: local code and definition paths become an artifact
location and an inline definition. The resulting CloudFormation is created in moto. Then the
resolved environment of every function is written for `cargo lambda watch`, and the endpoints
a user or a test needs are written to .local/endpoints.env.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import boto3
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
LOCAL = ROOT / ".local"
ARTIFACTS_BUCKET = "sluice-local-artifacts"
ARTIFACT_KEY = "functions.zip"
REGION = os.environ.get("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
LOCAL_PARAMETERS = {"RecordsUrlAuthType": "NONE"}


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def packaged_template() -> dict:
    template = yaml_parse(TEMPLATE.read_text())
    globals_function = template.setdefault("Globals", {}).setdefault("Function", {})
    globals_function["CodeUri"] = f"s3://{ARTIFACTS_BUCKET}/{ARTIFACT_KEY}"
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties.pop("CodeUri", None)
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            path = (TEMPLATE.parent / properties.pop("DefinitionUri")).resolve()
            properties["Definition"] = json.loads(path.read_text())
    return template


def upload_placeholder_artifact() -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("bootstrap", "served by cargo lambda watch\n")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=ARTIFACT_KEY, Body=archive.getvalue())


def deploy(stack_name: str) -> dict:
    cloudformation = client("cloudformation")
    translated = transform(packaged_template(), LOCAL_PARAMETERS, ManagedPolicyLoader(client("iam")))
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in LOCAL_PARAMETERS.items()]
    existing = {s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]
                if s["StackStatus"] != "DELETE_COMPLETE"}
    operation = cloudformation.update_stack if stack_name in existing else cloudformation.create_stack
    operation(
        StackName=stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if not stack["StackStatus"].endswith("_COMPLETE"):
        sys.exit(f"stack {stack_name} ended in {stack['StackStatus']}")
    return stack


def function_environment(stack_name: str) -> dict[str, str]:
    cloudformation, lam = client("cloudformation"), client("lambda")
    merged: dict[str, str] = {}
    resources = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    for resource in resources:
        if resource["ResourceType"] != "AWS::Lambda::Function":
            continue
        config = lam.get_function_configuration(FunctionName=resource["PhysicalResourceId"])
        for name, value in config.get("Environment", {}).get("Variables", {}).items():
            if merged.get(name, value) != value:
                sys.exit(f"functions disagree on {name}; `cargo lambda watch` shares one environment")
            merged[name] = value
    return merged


def write_env(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def main() -> None:
    stack_name = os.environ.get("SLUICE_STACK_NAME", "sluice")
    LOCAL.mkdir(exist_ok=True)
    upload_placeholder_artifact()
    stack = deploy(stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    aws = {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    write_env(LOCAL / "functions.env", {**aws, **function_environment(stack_name)})
    write_env(
        LOCAL / "endpoints.env",
        {
            **aws,
            "STACK_NAME": stack_name,
            "RECORDS_URL": outputs["RecordsUrl"].rstrip("/"),
            "RECORDS_TABLE": outputs["RecordsTableName"],
            "INGEST_STATE_MACHINE_ARN": outputs["IngestRecordStateMachineArn"],
        },
    )
    print(f"deployed stack {stack_name}: {json.dumps(outputs)}")


if __name__ == "__main__":
    main()
