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
  the mapping's part against the local Kafka broker).

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
    run_glue_jobs()
    fire_scheduled_rules()
    json_sdk_task_results()
    quiet_docker_probe()
    function_urls.serve(FUNCTION_URL_PORT, invoke_watch)

    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", port] + sys.argv[1:])


if __name__ == "__main__":
    main()
