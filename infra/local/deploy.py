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
sys.path.insert(0, str(ROOT / "infra"))
import register_schemas  # noqa: E402
TEMPLATE = ROOT / "infra" / "template.yaml"
LOCAL = ROOT / ".local"
ARTIFACTS_BUCKET = "sluice-local-artifacts"
ARTIFACT_KEY = "functions.zip"
REGION = os.environ.get("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
FUNCTION_URLS = "http://127.0.0.1:" + os.environ.get("SLUICE_FUNCTION_URL_PORT", "9001")
# The bridge's standalone server (logs-server), which up.sh starts with the bridge's environment.
BRIDGE_URL = "http://127.0.0.1:" + os.environ.get("SLUICE_BRIDGE_PORT", "9002")
# Local-only secrets: the local stack accepts this app key and JWTs signed with this secret.
LOCAL_APP_KEY = "sluice-local-app-key"
LOCAL_JWT_SECRET = "sluice-local-jwt-secret-not-for-production"
LOCAL_ADMIN_KEY = "sluice-local-admin-key"
ADMIN_KEY_PARAMETER = "/sluice/local/records-admin-key"
APP_KEYS_PARAMETER = "/sluice/local/app-keys"
AD_NETWORK_KEYS_PARAMETER = "/sluice/local/ad-network-keys"
# The address export mails come from, verified in the local SES as a deployer verifies theirs.
EXPORTS_SENDER = "ad-exports@sluice.example"
# Where the local SES keeps each mail it sent (infra/local/stack_server.py).
MAIL_DIR = LOCAL / "mail"
# Local-only ad networks and the key each puts in its callback URLs.
LOCAL_AD_NETWORKS = {
    "brightads": "sluice-local-brightads-key",
    "tapreach": "sluice-local-tapreach-key",
    "clickwave": "sluice-local-clickwave-key",
}
JWT_KEY_PARAMETER = "/sluice/local/jwt-key"
LOCAL_PARAMETERS = {
    "RecordsUrlAuthType": "NONE",
    "RecordsAdminKeyParameterName": ADMIN_KEY_PARAMETER,
    "MskClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/sluice-local/"
    "00000000-0000-0000-0000-000000000000-1",
    "KafkaBootstrapServers": KAFKA_BOOTSTRAP,
    "KafkaAuth": "plaintext",
    "AppKeysParameterName": APP_KEYS_PARAMETER,
    "AdNetworkKeysParameterName": AD_NETWORK_KEYS_PARAMETER,
    "ExportsUrlAuthType": "NONE",
    "ExportsSender": EXPORTS_SENDER,
    "LogsJwtAlgorithm": "HS256",
    "LogsJwtKeyParameterName": JWT_KEY_PARAMETER,
    # A failed run's retry need not wait a minute on a laptop, nor a Glue poll half one.
    "EtlRetryDelaySeconds": "2",
    "GluePollSeconds": "5",
    # Small ranges, so that the tests' files cross range boundaries; the benchmarks read with
    # the template's default.
    "EtlRangeBytes": os.environ.get("SLUICE_ETL_RANGE_BYTES", "262144"),
}
ALERTS_QUEUE = "sluice-local-alerts"
APPROVALS_QUEUE = "sluice-local-approvals"


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
        if resource["Type"] == "AWS::Glue::Job":
            command = properties["Command"]
            command["ScriptLocation"] = upload_artifact(TEMPLATE.parent / command["ScriptLocation"])
    return template


def upload_artifact(path: Path) -> str:
    """What `sam package` does with a Glue job's local script: put it in the artifacts bucket."""
    key = f"glue/{path.name}"
    client("s3").put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=path.read_bytes())
    return f"s3://{ARTIFACTS_BUCKET}/{key}"


def upload_placeholder_artifact() -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("bootstrap", "served by cargo lambda watch\n")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=ARTIFACT_KEY, Body=archive.getvalue())


def put_secrets() -> None:
    """The secrets the deployer keeps in SSM, as SecureStrings: the app keys, the JWT key, the
    records admin key and the ad networks' callback keys."""
    for name, value in [
        (APP_KEYS_PARAMETER, LOCAL_APP_KEY),
        (AD_NETWORK_KEYS_PARAMETER, network_keys()),
        (JWT_KEY_PARAMETER, LOCAL_JWT_SECRET),
        (ADMIN_KEY_PARAMETER, LOCAL_ADMIN_KEY),
    ]:
        client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def network_keys() -> str:
    return ",".join(f"{network}:{key}" for network, key in LOCAL_AD_NETWORKS.items())


def msk_mappings(stack_name: str) -> list[dict]:
    """The stack's MSK event source mappings, for the local poller that plays them."""
    lam = client("lambda")
    mappings = []
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        if not mapping["EventSourceArn"].startswith("arn:aws:kafka:"):
            continue
        function_name = mapping["FunctionArn"].rsplit(":", 1)[-1]
        if not function_name.startswith(f"{stack_name}-"):
            continue
        group = (mapping.get("AmazonManagedKafkaEventSourceConfig") or {}).get("ConsumerGroupId")
        mappings.append({
            "function": function_name[len(stack_name) + 1:],
            "topic": mapping["Topics"][0],
            "group": group or mapping["UUID"],
            "batch_size": mapping.get("BatchSize") or 100,
            "source_arn": mapping["EventSourceArn"],
        })
    return mappings


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


def subscribed_queue(topic_arn: str, queue_name: str) -> str:
    """An SQS queue subscribed to a topic, so what is published there can be read back locally."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = client("sns")
    subscribed = any(
        sub["Endpoint"] == arn
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    )
    if not subscribed:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def write_env(path: Path, values: dict[str, str], quoted: bool = False) -> None:
    def value(text) -> str:
        text = str(text)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' if quoted else text
    path.write_text("".join(f"{k}={value(v)}\n" for k, v in values.items()))


def main() -> None:
    stack_name = os.environ.get("SLUICE_STACK_NAME", "sluice")
    LOCAL.mkdir(exist_ok=True)
    upload_placeholder_artifact()
    put_secrets()
    ses = client("sesv2")
    if EXPORTS_SENDER not in {i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]}:
        ses.create_email_identity(EmailIdentity=EXPORTS_SENDER)
    stack = deploy(stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    # What `make deploy` does after `sam deploy`: register schemas/ in the stack's registry.
    try:
        register_schemas.register(client("glue"), outputs["AdSchemaRegistryName"])
    except register_schemas.Refused as refused:
        sys.exit(f"the schema registry refused {refused}")

    aws = {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    # cargo lambda watch reads a dotenv file: values are quoted (LOGS_TOPICS holds '=').
    write_env(LOCAL / "functions.env", {**aws, **function_environment(stack_name)}, quoted=True)
    write_env(
        LOCAL / "endpoints.env",
        {
            **aws,
            "STACK_NAME": stack_name,
            "RECORDS_URL": outputs["RecordsUrl"].rstrip("/"),
            "RECORDS_TABLE": outputs["RecordsTableName"],
            "INGEST_STATE_MACHINE_ARN": outputs["IngestRecordStateMachineArn"],
            "RECORDS_ADMIN_KEY": LOCAL_ADMIN_KEY,
            "APPROVALS_TABLE": outputs["ApprovalsTableName"],
            "APPROVAL_STATE_MACHINE_ARN": outputs["ApproveRecordStateMachineArn"],
            "APPROVALS_QUEUE_URL": subscribed_queue(outputs["ApprovalTopicArn"], APPROVALS_QUEUE),
            # The local front end calls the bridge the way the HTTP API route does.
            "LOGS_URL": f"{FUNCTION_URLS}/lambda-url/logs-bridge",
            "LOGS_APP_KEY": LOCAL_APP_KEY,
            "BRIDGE_URL": BRIDGE_URL,
            "LOGS_JWT_SECRET": LOCAL_JWT_SECRET,
            "LOGS_BUCKET": outputs["LogsBucketName"],
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
            "INBOUND_BUCKET": outputs["InboundBucketName"],
            "OUTBOUND_BUCKET": outputs["OutboundBucketName"],
            "RUNS_TABLE": outputs["RunsTableName"],
            "RUNS_URL": outputs["RunsUrl"].rstrip("/"),
            "ETL_STATE_MACHINE_ARN": outputs["ProcessHitFileStateMachineArn"],
            "ALERTS_QUEUE_URL": subscribed_queue(outputs["AlertsTopicArn"], ALERTS_QUEUE),
            "GLUE_JOB_NAME": outputs["GlueJobName"],
            # Ad-network callbacks go to the bridge, {AD_CALLBACKS_URL}/{network}/{kind}?key=...
            # (the function; {BRIDGE_URL}/api/v1/events/... is the standalone server).
            "AD_CALLBACKS_URL": f"{FUNCTION_URLS}/lambda-url/logs-bridge/api/v1/events",
            "AD_NETWORK": next(iter(LOCAL_AD_NETWORKS)),
            "AD_NETWORK_KEY": next(iter(LOCAL_AD_NETWORKS.values())),
            "AD_NETWORK_KEYS": network_keys(),
            "AD_SCHEMA_REGISTRY": outputs["AdSchemaRegistryName"],
            "AD_EVENTS_TABLE": outputs["AdEventsTableName"],
            "AD_PARKED_EVENTS_TABLE": outputs["AdParkedEventsTableName"],
            "EXPORTS_URL": outputs["ExportsUrl"].rstrip("/"),
            "EXPORTS_TABLE": outputs["ExportsTableName"],
            "EXPORTS_BUCKET": outputs["ExportsBucketName"],
            "EXPORTS_MAIL_DIR": str(MAIL_DIR),
        },
    )
    mappings = msk_mappings(stack_name)
    (LOCAL / "msk-mappings.json").write_text(json.dumps(mappings, indent=2))
    print(f"deployed stack {stack_name}: {json.dumps(outputs)}")


if __name__ == "__main__":
    main()
