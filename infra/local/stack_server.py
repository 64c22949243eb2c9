"""moto in server mode, with the gaps Sluice needs filled.

moto 5.2.5 emulates the AWS APIs but cannot run Lambda code without Docker and lacks a few
operations. This process starts moto's server after patching, in process:

- Lambda invocations (direct Invoke, Step Functions tasks, EventBridge targets) are forwarded to
  `cargo lambda watch`, which serves the workspace's functions by binary name;
- function URLs are served on SLUICE_FUNCTION_URL_PORT by the front end in function_urls.py,
  which builds the request event as AWS does and invokes the function through watch;
- StartSyncExecution runs the execution and answers when it has finished;
- StartExecution without a name gets a unique one instead of the literal "None";
- state machines created by CloudFormation land in the executing backend with their
  DefinitionSubstitutions applied;
- EventBridge delivers to Lambda, SNS and Step Functions targets, events shaped as AWS sends
  them (ISO `time`, the `account`);
- STANDARD executions that end emit "Step Functions Execution Status Change" events;
- S3 notifications declared on a bucket in the template are applied;
- scheduled rules fire, on a tick of SLUICE_SCHEDULE_TICK seconds;
- AWS::Glue::Job exists in CloudFormation, and a job run runs the job's real script with the
  local PySpark (`SLUICE_GLUE_PYTHON`), then emits "Glue Job State Change";
- event source mappings on MSK clusters are accepted and listed (the local MSK poller plays
  the mapping's part against the local Kafka broker);
- SQS event source mappings deliver in the background, one message batch at a time per queue,
  as Lambda's poller does (moto invokes the function inside SendMessage, so the sender waits for
  the function, and concurrent sends run the function concurrently even on a FIFO queue);
- a presigned S3 URL is refused once it has expired (moto serves it for ever);
- every mail SES sends is kept as a JSON file in SLUICE_MAIL_DIR, to be read back;
- a DynamoDB Query on a table's own key reads that partition, not the whole table (moto sorts
  every item of the table for each Query, which makes a table of 10^5 items answer in seconds);
- AWS::Glue::Registry exists in CloudFormation, and RegisterSchemaVersion refuses an Avro
  version that breaks the schema's compatibility mode, as Glue does (moto stores any).

Function names map to binaries by the stack's naming rule: `<stack>-<binary>`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import function_urls

WATCH_URL = os.environ.get("SLUICE_WATCH_URL", "http://127.0.0.1:9000")
FUNCTION_URL_PORT = int(os.environ.get("SLUICE_FUNCTION_URL_PORT", "9001"))
FUNCTION_URLS = f"http://127.0.0.1:{FUNCTION_URL_PORT}"
STACK_NAME = os.environ.get("SLUICE_STACK_NAME", "sluice")
INVOKE_TIMEOUT_SECONDS = float(os.environ.get("SLUICE_INVOKE_TIMEOUT", "120"))
SYNC_EXECUTION_LIMIT_SECONDS = 300
# Lambda polls an SQS queue with several pollers; so many batches are delivered at once locally.
SQS_DELIVERY_THREADS = 4


def binary_for(function_name: str) -> str:
    prefix = f"{STACK_NAME}-"
    return function_name[len(prefix):] if function_name.startswith(prefix) else function_name


def invoke_watch(function_name: str, event: object) -> tuple[str, bool]:
    """Runs one invocation on `cargo lambda watch`; returns (payload, errored)."""
    body = event if isinstance(event, (bytes, str)) else json.dumps(event)
    if isinstance(body, str):
        body = body.encode()
    request = urllib.request.Request(
        f"{WATCH_URL}/2015-03-31/functions/{binary_for(function_name)}/invocations",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as response:
            payload = response.read().decode()
            errored = bool(response.headers.get("X-Amz-Function-Error"))
    except urllib.error.HTTPError as failure:
        payload = failure.read().decode() or json.dumps(
            {"errorType": "InvokeFailed", "errorMessage": f"HTTP {failure.code}"}
        )
        errored = True
    except (urllib.error.URLError, TimeoutError) as failure:
        payload = json.dumps({"errorType": "InvokeFailed", "errorMessage": str(failure)})
        errored = True
    if not errored:
        try:
            parsed = json.loads(payload) if payload else None
            errored = isinstance(parsed, dict) and "errorType" in parsed and "errorMessage" in parsed
        except json.JSONDecodeError:
            pass
    return payload, errored


def patch_lambda() -> None:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self, event=None):
        self.logs_backend.ensure_log_group(self.logs_group_name)
        payload, errored = invoke_watch(self.function_name, event if event is not None else {})
        return payload, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda


def add_function_url_resource() -> None:
    """CloudFormation support for AWS::Lambda::Url, whose URL is where the local front end serves it."""
    from moto.awslambda.models import lambda_backends
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    class FunctionUrl(CloudFormationModel):
        # moto files its models by the service named in the module path.
        __module__ = "moto.awslambda.sluice_function_url"

        def __init__(self, function_arn: str, url: str) -> None:
            self.function_arn = function_arn
            self.url = url

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Url"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("FunctionUrl", "FunctionArn")

        @property
        def physical_resource_id(self) -> str:
            return self.function_arn

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.url if attribute_name == "FunctionUrl" else self.function_arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            properties = cloudformation_json["Properties"]
            backend = lambda_backends[account_id][region_name]
            function = backend.get_function(properties["TargetFunctionArn"])
            config = backend.create_function_url_config(
                function.function_arn,
                {k: v for k, v in properties.items() if k in ("AuthType", "Cors", "InvokeMode")},
            )
            config.url = f"{FUNCTION_URLS}/lambda-url/{binary_for(function.function_name)}/"
            return cls(function.function_arn, config.url)

    parsing.get_model_map.cache_clear()


def executing_backend(account: str, region: str):
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[account][region]


def patch_stepfunctions() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        if not name or name == "None":
            name = str(uuid.uuid4())
        return original_start(self, state_machine_arn, name, execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution

    def start_sync_execution(self) -> ActionResult:
        arn = self._get_param("stateMachineArn")
        backend = self.stepfunction_backend
        execution = backend.start_execution(
            arn, self._get_param("name"), self._get_param("input", if_none="{}")
        )
        deadline = time.monotonic() + SYNC_EXECUTION_LIMIT_SECONDS
        running = (ExecutionStatus.RUNNING, ExecutionStatus.RUNNING.value)
        while execution.status in running and time.monotonic() < deadline:
            time.sleep(0.005)
        status = execution.status
        status = getattr(status, "value", status)
        response = {
            "executionArn": execution.execution_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "startDate": execution.start_date,
            "stopDate": execution.stop_date or execution.start_date,
            "status": status if status in ("SUCCEEDED", "FAILED") else "TIMED_OUT",
            "input": execution.execution_input,
        }
        if status == "SUCCEEDED":
            output = execution.output
            response["output"] = output if isinstance(output, str) else json.dumps(output)
        if execution.error is not None:
            response["error"] = execution.error
        if execution.cause is not None:
            response["cause"] = execution.cause
        return ActionResult(response)

    StepFunctionResponse.start_sync_execution = start_sync_execution

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        definition = properties.get("DefinitionString", "")
        if not isinstance(definition, str):
            definition = json.dumps(definition)
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])]
        return executing_backend(account_id, region_name).create_state_machine(
            properties.get("StateMachineName", resource_name),
            definition,
            properties.get("RoleArn", ""),
            tags=tags,
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        executing_backend(account_id, region_name).delete_state_machine(resource_name)

    StateMachine.create_from_cloudformation_json = create_from_cloudformation_json
    StateMachine.delete_from_cloudformation_json = delete_from_cloudformation_json


def aws_shaped(event: dict, account_id: str) -> dict:
    """An event as EventBridge delivers it: ISO `time`, the `account`, no moto bookkeeping."""
    shaped = {k: v for k, v in event.items() if k != "ingestion-time"}
    shaped.setdefault("account", account_id)
    when = shaped.get("time")
    if isinstance(when, (int, float)):
        shaped["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    return shaped


def invoke_logged(function_name: str, body: str) -> None:
    payload, errored = invoke_watch(function_name, body)
    if errored:
        print(f"EventBridge delivery to {function_name} failed: {payload}", file=sys.stderr, flush=True)


def patch_eventbridge() -> None:
    from moto.events.models import EventTemplateParser, Rule
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets
    delivered_here = ("lambda", "sns", "states")

    def send_to_targets(self, original_event, transform_input=True):
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service in delivered_here]
        rest = [t for t in self.targets if t not in ours]
        for target in ours:
            if "Input" in target:
                event = json.loads(target["Input"])
            elif transform_input and "InputTransformer" in target:
                transformer = target["InputTransformer"]
                event = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=original_event,
                )
            else:
                # What AWS sends when a target has no input of its own: the event itself.
                event = aws_shaped(original_event, self.account_id)
            deliver(parse_arn(target["Arn"]), target["Arn"], event)
        if rest:
            self.targets, kept = rest, self.targets
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = kept

    def deliver(arn, full_arn, event):
        body = event if isinstance(event, str) else json.dumps(event, default=str)
        if arn.service == "lambda":
            name = arn.resource_id.split(":")[0]
            # EventBridge invokes Lambda asynchronously; a failed delivery is logged, as AWS
            # would put it in the target's dead-letter queue.
            threading.Thread(target=invoke_logged, args=(name, body), daemon=True).start()
        elif arn.service == "sns":
            sns_backends[arn.account][arn.region].publish(message=body, arn=full_arn)
        elif arn.service == "states":
            state_machine_arn = full_arn
            executing_backend(arn.account, arn.region).start_execution(state_machine_arn, None, body)

    Rule.send_to_targets = send_to_targets


def emit_execution_status_events() -> None:
    """EventBridge gets "Step Functions Execution Status Change" when a STANDARD execution ends.

    AWS emits them for STANDARD workflows only; moto emits none.
    """
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )

    def emit(execution) -> None:
        if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
            return
        status = execution.exec_status
        status = getattr(status, "value", status)
        millis = lambda moment: int(moment.timestamp() * 1000) if moment else None  # noqa: E731
        output = execution.output
        detail = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": millis(execution.start_date),
            "stopDate": millis(execution.stop_date),
            "input": execution.execution_input,
            "output": output if output is None or isinstance(output, str) else json.dumps(output),
            "error": execution.error,
            "cause": execution.cause,
        }
        events_backends[execution.account_id][execution.region_name].put_events([{
            "Source": "aws.states",
            "DetailType": "Step Functions Execution Status Change",
            "Resources": [execution.exec_arn],
            "Detail": json.dumps(detail, default=str),
        }])

    original_terminated = BaseExecutionWorkerCommunication.terminated

    def terminated(self) -> None:
        original_terminated(self)
        emit(self.execution)

    BaseExecutionWorkerCommunication.terminated = terminated

    original_stop = Execution.stop

    def stop(self, stop_date, error, cause):
        original_stop(self, stop_date, error, cause)
        emit(self)

    Execution.stop = stop


def apply_bucket_notifications() -> None:
    """S3 notifications a template declares on a bucket (as SAM's S3 events do) are applied."""
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    original = FakeBucket.create_from_cloudformation_json.__func__

    def internal_filter(cfn_filter):
        rules = (cfn_filter or {}).get("S3Key", {}).get("Rules", [])
        return {"S3Key": {"FilterRule": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}} if rules else None

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        declared = cloudformation_json.get("Properties", {}).get("NotificationConfiguration") or {}
        config = {}
        for key, internal, target in (
            ("LambdaConfigurations", "CloudFunctionConfiguration", ("Function", "CloudFunction")),
            ("QueueConfigurations", "QueueConfiguration", ("Queue", "Queue")),
            ("TopicConfigurations", "TopicConfiguration", ("Topic", "Topic")),
        ):
            entries = []
            for index, entry in enumerate(declared.get(key, [])):
                converted = {"Id": f"{resource_name}-{key}-{index}", "Event": [entry["Event"]],
                             target[1]: entry[target[0]]}
                if internal_filter(entry.get("Filter")):
                    converted["Filter"] = internal_filter(entry.get("Filter"))
                entries.append(converted)
            if entries:
                config[internal] = entries
        if "EventBridgeConfiguration" in declared:
            config["EventBridgeConfiguration"] = {}
        if config:
            s3_backends[account_id][get_partition(region_name)].put_bucket_notification_configuration(
                bucket.name, config
            )
        return bucket

    FakeBucket.create_from_cloudformation_json = create_from_cloudformation_json


def add_glue_job_resource() -> None:
    """CloudFormation support for AWS::Glue::Job (moto skips the type)."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel
    from moto.glue.models import glue_backends

    class GlueJob(CloudFormationModel):
        __module__ = "moto.glue.sluice_glue_job"

        def __init__(self, name: str) -> None:
            self.name = name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Glue::Job"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            name = p.get("Name", resource_name)
            glue_backends[account_id][region_name].create_job(
                name=name, role=p["Role"], command=p["Command"], description=p.get("Description", ""),
                log_uri="", execution_property=p.get("ExecutionProperty", {}),
                default_arguments=p.get("DefaultArguments", {}),
                non_overridable_arguments=p.get("NonOverridableArguments", {}), connections={},
                max_retries=int(p.get("MaxRetries", 0)), allocated_capacity=None,
                timeout=int(p.get("Timeout", 2880)), max_capacity=None, security_configuration=None,
                tags=p.get("Tags", {}), notification_property=None, glue_version=p.get("GlueVersion"),
                number_of_workers=int(p.get("NumberOfWorkers", 2)), worker_type=p.get("WorkerType"),
                code_gen_configuration_nodes=None, execution_class=None, source_control_details=None,
            )
            return cls(name)

    parsing.get_model_map.cache_clear()


def run_glue_jobs() -> None:
    """A Glue job run runs the job's real script, fetched from where the job says, with the local
    PySpark: its input fetched from the local S3, its report put back there, its arguments as
    Glue passes them. Success or failure is the script's; the end emits the "Glue Job State
    Change" event AWS emits."""
    import datetime
    import subprocess
    import tempfile

    from moto.events.models import events_backends
    from moto.glue.models import FakeJob, FakeJobRun
    from moto.s3.models import s3_backends

    python = os.environ.get("SLUICE_GLUE_PYTHON", "")
    original_start = FakeJob.start_job_run
    original_as_dict = FakeJobRun.as_dict

    def as_dict(self):
        described = original_as_dict(self)
        if getattr(self, "error_message", None):
            described["ErrorMessage"] = self.error_message
        return described

    FakeJobRun.as_dict = as_dict

    def split_uri(uri: str) -> tuple[str, str]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bucket, key

    def execute(job, run) -> None:
        account, region = job.backend.account_id, job.backend.region_name
        s3 = s3_backends[account]["aws"]
        args = run.arguments or {}
        state, message = "SUCCEEDED", ""

        def read(uri: str) -> bytes:
            found = s3.get_object(*split_uri(uri))
            if found is None:
                raise RuntimeError(f"{uri}: NoSuchKey")
            return found.value

        try:
            with tempfile.TemporaryDirectory(prefix="sluice-glue-") as scratch:
                location = job.command["ScriptLocation"]
                script = os.path.join(scratch, os.path.basename(location))
                with open(script, "wb") as out:
                    out.write(read(location))
                source = os.path.join(scratch, "input")
                with open(source, "wb") as out:
                    out.write(read(args["--input"]))
                out_dir = os.path.join(scratch, "out")
                os.mkdir(out_dir)
                command = [python, script, source, "--out-dir", out_dir]
                if "--date" in args:
                    command += ["--date", args["--date"]]
                finished = subprocess.run(
                    command, capture_output=True, text=True, timeout=60 * (job.timeout or 2880),
                    env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
                )
                if finished.returncode != 0:
                    lines = [l for l in finished.stderr.splitlines() if l.strip()]
                    raise RuntimeError(lines[-1] if lines else f"exit status {finished.returncode}")
                output_bucket, prefix = split_uri(args["--output"])
                for name in os.listdir(out_dir):
                    with open(os.path.join(out_dir, name), "rb") as report:
                        key = f"{prefix.rstrip('/')}/{name}".lstrip("/")
                        s3.put_object(output_bucket, key, report.read())
        except Exception as failure:  # the job's failure, whatever it was
            state, message = "FAILED", str(failure) or type(failure).__name__
        run.error_message = message or None
        run.status = state
        run.completed_on = run.modified_on = datetime.datetime.now()
        detail = {"jobName": job.name, "severity": "INFO" if state == "SUCCEEDED" else "ERROR",
                  "state": state, "jobRunId": run.job_run_id, "message": message or "Job run succeeded"}
        events_backends[account][region].put_events([{
            "Source": "aws.glue", "DetailType": "Glue Job State Change", "Detail": json.dumps(detail),
        }])

    def start_job_run(self, **kwargs):
        run_id = original_start(self, **kwargs)
        run = next(r for r in self.job_runs if r.job_run_id == run_id)
        # The outcome is the script's: no transition past RUNNING but the one `execute` makes.
        run._transitions = [("STARTING", "RUNNING")]
        run.status = "RUNNING"
        threading.Thread(target=execute, args=(self, run), daemon=True).start()
        return run_id

    FakeJob.start_job_run = start_job_run


def fire_scheduled_rules() -> None:
    """Rules with a ScheduleExpression fire, every SLUICE_SCHEDULE_TICK seconds whatever their
    rate (moto has no timer), with the "Scheduled Event" AWS sends."""
    from moto.events.models import events_backends

    tick = float(os.environ.get("SLUICE_SCHEDULE_TICK", "10"))

    def fire() -> None:
        while True:
            time.sleep(tick)
            for account_id, regions in list(events_backends.items()):
                for region, backend in list(regions.items()):
                    for bus in list(backend.event_buses.values()):
                        for rule in list(bus.rules.values()):
                            if not rule.scheduled_expression or rule.state != "ENABLED":
                                continue
                            now = time.time()
                            event = {
                                "version": "0",
                                "id": str(uuid.uuid4()),
                                "detail-type": "Scheduled Event",
                                "source": "aws.events",
                                "account": account_id,
                                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "region": region,
                                "resources": [rule.arn],
                                "detail": {},
                                "ingestion-time": now,
                            }
                            try:
                                rule.send_to_targets(event)
                            except Exception as failure:  # one rule's trouble stops no other
                                print(f"scheduled rule {rule.name}: {failure!r}", file=sys.stderr, flush=True)

    threading.Thread(target=fire, daemon=True, name="scheduled-rules").start()


def json_sdk_task_results() -> None:
    """An `aws-sdk:*` task's result is JSON in AWS (timestamps as text); moto hands the workflow
    boto3's parsed response, whose datetimes then break `States.JsonToString` and DescribeExecution."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    original = StateTaskServiceAwsSdk._eval_service_task

    def _eval_service_task(self, env, *args, **kwargs):
        original(self, env, *args, **kwargs)
        env.stack.append(json.loads(json.dumps(env.stack.pop(), default=str)))

    StateTaskServiceAwsSdk._eval_service_task = _eval_service_task


def quiet_docker_probe() -> None:
    """`/moto-api/data.json` serialises every model; a Lambda function's Docker client raises
    DockerException (no Docker here), which that endpoint does not catch. Make it AttributeError,
    which it does."""
    from moto.utilities.docker_utilities import DockerModel

    def docker_client(self):
        raise AttributeError("no Docker in the local stack")

    DockerModel.docker_client = property(docker_client)


def accept_msk_event_sources() -> None:
    """moto only maps SQS, DynamoDB and Kinesis sources; an MSK cluster ARN is stored as given."""
    from moto.awslambda.models import EventSourceMapping, LambdaBackend

    class MskEventSourceMapping(EventSourceMapping):
        # moto validates the source type and batch size only for the sources it knows.
        __module__ = EventSourceMapping.__module__  # moto's model registry keys on it

        @property
        def event_source_arn(self) -> str:
            return self._event_source_arn

        @event_source_arn.setter
        def event_source_arn(self, arn: str) -> None:
            self._event_source_arn = arn

        @property
        def batch_size(self) -> int:
            return self._batch_size

        @batch_size.setter
        def batch_size(self, size) -> None:
            self._batch_size = int(size or 100)

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec):
        if not str(spec.get("EventSourceArn", "")).startswith("arn:aws:kafka:"):
            return original(self, spec)
        function = self._lambdas.get_function_by_name_or_arn_with_qualifier(spec["FunctionName"])
        spec.update({
            "FunctionArn": function.function_arn,
            "RegionName": self.region_name,
            "AccountId": self.account_id,
        })
        mapping = MskEventSourceMapping(spec)
        self._event_source_mappings[mapping.uuid] = mapping
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping


def deliver_sqs_in_background() -> None:
    """SendMessage only queues; a daemon delivers each queue's messages to its mappings' functions,
    a batch at a time, and deletes them when the function succeeded. A failed batch stays in the
    queue, to be received again once its visibility timeout has passed (and redriven, if the
    queue says so), as with Lambda's own poller. Like that poller, deliveries run side by side
    (several threads, receiving and deleting under one lock, since moto's are not thread-safe):
    batches of a standard queue, or of different FIFO message groups, run at once, while a FIFO
    group's next message is held back until the one before is done. One export at a time is
    then what the exports queue's single message group gives, not something the stack imposes."""
    from moto.awslambda.utils import get_backend
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue, sqs_backends

    wake = threading.Event()
    queues: dict[str, Queue] = {}
    receiving = threading.Lock()

    def add_message(self, message) -> None:
        if self.fifo_queue and (
            self.attributes.get("ContentBasedDeduplication") == "true" or message.deduplication_id
        ):
            for earlier in self._messages:
                if (earlier.deduplication_id == message.deduplication_id
                        and (message.sent_timestamp - earlier.sent_timestamp) / 1000 < DEDUPLICATION_TIME_IN_SECONDS):
                    return
        with self._messages_lock:
            self._messages.append(message)
            self._messages_lock.notify_all()
        if self.lambda_event_source_mappings:
            queues[self.queue_arn] = self
            wake.set()

    def deliver() -> None:
        while True:
            wake.wait(timeout=1.0)
            wake.clear()
            for queue in list(queues.values()):
                backend = sqs_backends[queue.account_id][queue.region]
                for arn, mapping in list(queue.lambda_event_source_mappings.items()):
                    if not mapping.enabled:
                        continue
                    while True:
                        try:
                            with receiving:
                                messages = backend.receive_message(
                                    queue.name, mapping.batch_size, 0, queue.visibility_timeout)
                        except Exception as failure:  # the queue went away
                            print(f"SQS delivery from {queue.name} stopped: {failure}", file=sys.stderr, flush=True)
                            break
                        if not messages:
                            break
                        try:
                            delivered = get_backend(queue.account_id, queue.region).send_sqs_batch(
                                arn, messages, queue.queue_arn)
                            if not delivered:
                                break  # received again after the visibility timeout
                            with receiving, queue._messages_lock:
                                for message in messages:
                                    backend.delete_message(queue.name, message.receipt_handle)
                        except Exception as failure:  # keep delivering the other batches
                            print(f"SQS delivery from {queue.name} failed: {failure}", file=sys.stderr, flush=True)
                            break

    Queue.add_message = add_message
    for n in range(SQS_DELIVERY_THREADS):
        threading.Thread(target=deliver, name=f"sqs-mappings-{n}", daemon=True).start()


def enforce_presigned_expiry() -> None:
    """A presigned URL (SigV4 X-Amz-Date + X-Amz-Expires, or SigV2 Expires) past its expiry gets
    403 AccessDenied "Request has expired", as S3 answers. The signature itself is not checked."""
    from datetime import datetime, timezone
    from urllib.parse import parse_qs, urlparse

    from moto.s3.responses import S3Response

    original = S3Response._key_response
    expired_body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                    '<Message>Request has expired</Message></Error>')

    def expires_at(query: dict) -> float | None:
        if "X-Amz-Date" in query and "X-Amz-Expires" in query:
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            return signed.timestamp() + int(query["X-Amz-Expires"][0])
        if "Expires" in query and "Signature" in query:
            return float(query["Expires"][0])
        return None

    def _key_response(self, request, full_url):
        try:
            deadline = expires_at(parse_qs(urlparse(full_url).query))
        except ValueError:
            deadline = 0.0
        if deadline is not None and time.time() > deadline:
            return 403, {"Content-Type": "application/xml"}, expired_body
        return original(self, request, full_url)

    S3Response._key_response = _key_response


def keep_sent_mail() -> None:
    """Each mail SES sends (v1 or v2) is also written to SLUICE_MAIL_DIR as one JSON file:
    source, destinations, subject, body."""
    from moto.ses.models import SESBackend

    folder = os.environ.get("SLUICE_MAIL_DIR")
    if not folder:
        return
    original = SESBackend.send_email

    def send_email(self, source, subject, body, destinations):
        message = original(self, source=source, subject=subject, body=body, destinations=destinations)
        os.makedirs(folder, exist_ok=True)
        record = {"id": message.id, "source": source, "destinations": destinations,
                  "subject": subject, "body": body, "sent_at": time.time()}
        path = os.path.join(folder, f"{time.time_ns()}-{message.id}.json")
        with open(path + ".partial", "w") as out:
            json.dump(record, out)
        os.replace(path + ".partial", path)
        return message

    SESBackend.send_email = send_email


def query_one_partition() -> None:
    """A Query of a table's own key (no index) reads only its partition's items. moto's Query
    builds its candidates from `all_items()`, every item of the table, sorted, then keeps those
    of the partition; for the duration of such a Query, `all_items()` of that table gives the
    partition alone (per thread, as the server answers requests on threads)."""
    from moto.dynamodb.models.table import Table

    narrowed = threading.local()
    original_all_items = Table.all_items
    original_query = Table.query

    def all_items(self):
        if getattr(narrowed, "table", None) is self:
            partition = self.items.get(narrowed.hash_key)
            if partition is None:
                return []
            return sorted(partition.values(), key=lambda item: item.range_key) if self.range_key_attr else [partition]
        return original_all_items(self)

    def query(self, hash_key, *args, **kwargs):
        if kwargs.get("index_name") or (len(args) > 6 and args[6]) or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        narrowed.table, narrowed.hash_key = self, hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            narrowed.table = narrowed.hash_key = None

    Table.all_items = all_items
    Table.query = query


def serialize_dynamodb_items_directly() -> None:
    """DynamoDB's item reads answer with their result dumped as JSON. moto builds these results
    in the wire's own shape already, then walks the service model over every attribute of every
    item to serialize them: about 2 ms an item, so an export of a million events spent most of
    its time there. The result is the same JSON (bytes as base64, as the model has it); any
    other action, or a result JSON cannot hold, goes through moto's serializer as before."""
    import base64

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    direct = {"Query", "Scan", "GetItem", "BatchGetItem"}
    original = ActionResult.execute_result

    def as_base64(value):
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        raise TypeError(f"{type(value).__name__} is not JSON")

    def execute_result(self, context):
        if (type(self) in (ActionResult, DynamoResult) and isinstance(self.result, dict)
                and context.service_model.service_name == "dynamodb"
                and context.operation_model.name in direct):
            try:
                body = json.dumps(self.result, default=as_base64)
            except (TypeError, ValueError):
                return original(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0",
                         "x-amzn-requestid": uuid.uuid4().hex}, body
        return original(self, context)

    ActionResult.execute_result = execute_result


def isolate_dynamodb_writes() -> None:
    """DynamoDB applies a transaction as one step, serializable with every other write and with
    GetItem: of two transactions that put the same item only if it does not exist, one succeeds
    and the other is cancelled. moto's TransactWriteItems checks and writes one item after
    another, and on a failed condition puts back a copy of the tables taken before it started, so
    on the server's threads two at once can both pass a condition only one should, or undo a
    write made meanwhile. Writes, and GetItem, take one lock here."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def isolated(original):
        def call(self, *args, **kwargs):
            with lock:
                return original(self, *args, **kwargs)
        return call

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item"):
        setattr(DynamoDBBackend, name, isolated(getattr(DynamoDBBackend, name)))


def add_glue_registry_resource() -> None:
    """CloudFormation support for AWS::Glue::Registry (moto skips the type)."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel
    from moto.glue.models import glue_backends

    class GlueRegistry(CloudFormationModel):
        __module__ = "moto.glue.sluice_glue_registry"

        def __init__(self, name: str, arn: str) -> None:
            self.name = name
            self.arn = arn

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Glue::Registry"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "Name")

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.arn if attribute_name == "Arn" else self.name

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            name = p.get("Name", resource_name)
            backend = glue_backends[account_id][region_name]
            if name not in backend.registries:
                backend.create_registry(name, p.get("Description"), {})
            return cls(name, backend.registries[name].as_dict()["RegistryArn"])

    parsing.get_model_map.cache_clear()


def enforce_schema_compatibility() -> None:
    """RegisterSchemaVersion checks an Avro version against the schema's compatibility mode and
    refuses one that breaks it (InvalidInputException naming the version it breaks with), as
    Glue does; moto registers any definition."""
    import avro.schema
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
    from moto.glue.exceptions import GSRInvalidInputException
    from moto.glue.models import GlueBackend
    from moto.glue.glue_schema_registry_utils import validate_schema_id

    # mode -> (new version reads the old, old reads the new, against every version or the latest)
    modes = {
        "BACKWARD": (True, False, False), "BACKWARD_ALL": (True, False, True),
        "FORWARD": (False, True, False), "FORWARD_ALL": (False, True, True),
        "FULL": (True, True, False), "FULL_ALL": (True, True, True),
    }
    original = GlueBackend.register_schema_version

    def unreadable(reader, writer) -> list[str]:
        """Why `reader` cannot read what `writer` wrote; empty when it can."""
        result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
        if result.compatibility is SchemaCompatibilityType.compatible:
            return []
        kinds = ", ".join(sorted({kind.name.lower().replace("_", " ") for kind in result.incompatibilities}))
        return [f"{kinds}: {', '.join(sorted(result.messages))}"]

    def register_schema_version(self, schema_id, schema_definition):
        registry_name, schema_name, _ = validate_schema_id(schema_id, self.registries)
        schema = self.registries[registry_name].schemas[schema_name]
        versions = sorted(
            (v for v in schema.schema_versions.values() if v.schema_version_status == "AVAILABLE"),
            key=lambda v: v.version_number,
        )
        mode = modes.get(schema.compatibility)
        known = any(v.schema_definition == schema_definition for v in versions)
        if schema.data_format == "AVRO" and mode and versions and not known:
            try:
                new = avro.schema.parse(schema_definition)
            except Exception as failure:
                raise GSRInvalidInputException(f"Schema definition of AVRO data format is invalid: {failure}")
            backward, forward, every = mode
            for old_version in versions if every else versions[-1:]:
                old = avro.schema.parse(old_version.schema_definition)
                reasons = (unreadable(new, old) if backward else []) + (unreadable(old, new) if forward else [])
                if reasons:
                    raise GSRInvalidInputException(
                        f"Schema is not compatible with version {old_version.version_number} "
                        f"of {schema_name} under compatibility mode {schema.compatibility}: "
                        + "; ".join(reasons)
                    )
        return original(self, schema_id, schema_definition)

    GlueBackend.register_schema_version = register_schema_version


def main() -> None:
    port = os.environ.setdefault("MOTO_PORT", "4566")
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    default_user_config.setdefault("lambda", {})["use_docker"] = True
    patch_lambda()
    patch_stepfunctions()
    patch_eventbridge()
    add_function_url_resource()
    accept_msk_event_sources()
    emit_execution_status_events()
    apply_bucket_notifications()
    add_glue_job_resource()
    query_one_partition()
    serialize_dynamodb_items_directly()
    isolate_dynamodb_writes()
    deliver_sqs_in_background()
    enforce_presigned_expiry()
    keep_sent_mail()
    add_glue_registry_resource()
    enforce_schema_compatibility()
    run_glue_jobs()
    fire_scheduled_rules()
    json_sdk_task_results()
    quiet_docker_probe()
    function_urls.serve(FUNCTION_URL_PORT, invoke_watch)

    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", port] + sys.argv[1:])


if __name__ == "__main__":
    main()
