"""The local stack's patch layer, checked over HTTP against the running server (`make up`), and in
process where a race has to be staged."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[3]
PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"answer": 42}, "End": True}}}
FAIL_MACHINE = {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Refused", "Cause": "because"}}}
ROLE = "arn:aws:iam::123456789012:role/local"


@pytest.fixture(scope="module")
def endpoints() -> dict[str, str]:
    lines = (ROOT / ".local" / "endpoints.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture(scope="module")
def aws(endpoints):
    def client(service: str, **config):
        return boto3.client(
            service,
            endpoint_url=endpoints["AWS_ENDPOINT_URL"],
            region_name=endpoints["AWS_REGION"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(**config),
        )

    return client


def state_machine(aws, definition: dict, kind: str = "STANDARD") -> str:
    return aws("stepfunctions").create_state_machine(
        name=f"test-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=ROLE, type=kind
    )["stateMachineArn"]


def sync_client(aws):
    # AWS routes StartSyncExecution by a `sync-` host prefix a loopback address cannot carry.
    return aws("stepfunctions", inject_host_prefix=False)


def eventually(probe, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_start_sync_execution_answers_with_the_finished_output(aws):
    arn = state_machine(aws, PASS_MACHINE, "EXPRESS")

    answer = sync_client(aws).start_sync_execution(stateMachineArn=arn, input="{}")

    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"answer": 42}
    assert answer["stopDate"] >= answer["startDate"]


def test_a_failed_sync_execution_carries_its_error_and_cause(aws):
    arn = state_machine(aws, FAIL_MACHINE, "EXPRESS")

    answer = sync_client(aws).start_sync_execution(stateMachineArn=arn, input="{}")

    assert answer["status"] == "FAILED"
    assert (answer["error"], answer["cause"]) == ("Refused", "because")
    assert "output" not in answer


def test_unnamed_executions_get_distinct_names(aws):
    sfn = aws("stepfunctions")
    arn = state_machine(aws, PASS_MACHINE)

    first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

    names = {first.rsplit(":", 1)[1], second.rsplit(":", 1)[1]}
    assert len(names) == 2 and "None" not in names


def test_the_deployed_state_machine_has_its_substitutions_applied(aws, endpoints):
    described = aws("stepfunctions").describe_state_machine(stateMachineArn=endpoints["INGEST_STATE_MACHINE_ARN"])

    definition = described["definition"]
    assert "${" not in definition
    assert endpoints["RECORDS_TABLE"] in definition
    assert f"function:{endpoints['STACK_NAME']}-validate-record" in definition


def test_the_deployed_function_url_is_where_the_function_is_served(aws, endpoints):
    config = aws("lambda").get_function_url_config(FunctionName=f"{endpoints['STACK_NAME']}-records-api")

    assert config["FunctionUrl"].rstrip("/") == endpoints["RECORDS_URL"]
    assert config["AuthType"] == "NONE"


def put_rule_with_target(aws, target_arn: str) -> str:
    events = aws("events")
    source = f"sluice.test.{uuid.uuid4().hex[:8]}"
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "target", "Arn": target_arn}])
    return source


def put_event(aws, source: str, detail: dict) -> None:
    answer = aws("events").put_events(
        Entries=[{"Source": source, "DetailType": "Test", "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0


def test_eventbridge_publishes_to_an_sns_target(aws):
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=f"topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    source = put_rule_with_target(aws, topic)

    put_event(aws, source, {"run": "r-1"})

    messages = eventually(lambda: sqs.receive_message(QueueUrl=queue_url).get("Messages"))
    assert messages, "nothing reached the topic's subscriber"
    event = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert event["detail"] == {"run": "r-1"}
    assert event["source"] == source


def test_eventbridge_starts_a_state_machine_target(aws):
    sfn = aws("stepfunctions")
    arn = state_machine(aws, PASS_MACHINE)
    source = put_rule_with_target(aws, arn)

    put_event(aws, source, {"run": "r-2"})

    executions = eventually(lambda: sfn.list_executions(stateMachineArn=arn)["executions"])
    assert len(executions) == 1
    started = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(started["input"])["detail"] == {"run": "r-2"}



def test_a_transaction_is_one_step_for_other_writers():
    # In process, without the stack: the first transaction is held between reading the item and
    # checking its condition; a second one on the same item starts meanwhile. As in DynamoDB, the
    # second waits and is cancelled, rather than both passing the condition.
    import threading

    import moto.dynamodb.models as models
    from moto import mock_aws

    sys.path.insert(0, str(ROOT / "infra" / "local"))
    import stack_server

    stack_server.isolate_dynamodb_writes()
    held = threading.local()
    parse = models.get_filter_expression

    def slow_parse(*args, **kwargs):
        if getattr(held, "on", False):
            time.sleep(0.5)
        return parse(*args, **kwargs)

    models.get_filter_expression = slow_parse
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="local",
                                    aws_secret_access_key="local")
            dynamodb.create_table(TableName="claims", BillingMode="PAY_PER_REQUEST",
                                  AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                  KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
            won = {}

            def claim(who: str, after: float) -> None:
                held.on = who == "first"
                time.sleep(after)
                try:
                    dynamodb.transact_write_items(TransactItems=[{"Put": {
                        "TableName": "claims", "Item": {"id": {"S": "shared"}, "by": {"S": who}},
                        "ConditionExpression": "attribute_not_exists(id)"}}])
                    won[who] = True
                except dynamodb.exceptions.TransactionCanceledException:
                    won[who] = False

            threads = [threading.Thread(target=claim, args=("first", 0)),
                       threading.Thread(target=claim, args=("second", 0.1))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            holder = dynamodb.get_item(TableName="claims", Key={"id": {"S": "shared"}})["Item"]["by"]["S"]
            assert won == {"first": True, "second": False}, won
            assert holder == "first"
    finally:
        models.get_filter_expression = parse
