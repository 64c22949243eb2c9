"""Registers the ad event schemas (schemas/<name>/v<N>.avsc) in a Glue Schema Registry.

Each folder is a schema of the registry, created with its v1 and compatibility BACKWARD; its
later versions are registered in order. Registering a definition the registry already holds
returns the existing version, so running this again after a deploy changes nothing. A version
the registry refuses (it breaks compatibility) stops the run with the registry's reason: the
bridge would otherwise answer every callback that names it with 503 schema_not_registered.

    python infra/register_schemas.py --registry NAME
    python infra/register_schemas.py --stack NAME      # the stack's AdSchemaRegistryName output
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import boto3

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
COMPATIBILITY = "BACKWARD"
PENDING_LIMIT_SECONDS = 60


class Refused(Exception):
    """The registry would not take a version."""


def versions(folder: Path) -> list[tuple[int, str]]:
    """(number, definition) of each version in the folder, in order; the numbers must run 1..N."""
    found = []
    for path in folder.glob("v*.avsc"):
        match = re.fullmatch(r"v([1-9][0-9]*)\.avsc", path.name)
        if match:
            found.append((int(match.group(1)), path.read_text()))
    found.sort()
    if [number for number, _ in found] != list(range(1, len(found) + 1)):
        raise Refused(f"{folder.name}: versions must be v1.avsc … vN.avsc without gaps")
    return found


def settled(glue, version_id: str) -> str:
    """The version's status once the registry has finished checking it."""
    deadline = time.monotonic() + PENDING_LIMIT_SECONDS
    while True:
        status = glue.get_schema_version(SchemaVersionId=version_id)["Status"]
        if status != "PENDING" or time.monotonic() > deadline:
            return status
        time.sleep(1)


def exists(glue, schema_id: dict) -> bool:
    try:
        glue.get_schema(SchemaId=schema_id)
        return True
    except glue.exceptions.EntityNotFoundException:
        return False


def register(glue, registry: str, schemas: Path = SCHEMAS) -> list[str]:
    """Registers every schema's versions in order; returns one line per version registered."""
    done = []
    for folder in sorted(p for p in schemas.iterdir() if p.is_dir()):
        name = folder.name
        schema_id = {"RegistryName": registry, "SchemaName": name}
        for number, definition in versions(folder):
            try:
                if number == 1 and not exists(glue, schema_id):
                    version_id = glue.create_schema(
                        RegistryId={"RegistryName": registry}, SchemaName=name, DataFormat="AVRO",
                        Compatibility=COMPATIBILITY, SchemaDefinition=definition,
                    )["SchemaVersionId"]
                else:
                    version_id = glue.register_schema_version(
                        SchemaId=schema_id, SchemaDefinition=definition)["SchemaVersionId"]
            except glue.exceptions.InvalidInputException as failure:
                raise Refused(f"{name} v{number}: {failure.response['Error']['Message']}") from None
            status = settled(glue, version_id)
            if status != "AVAILABLE":
                raise Refused(f"{name} v{number}: the registry left it {status}")
            done.append(f"{name} v{number}: {version_id}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--registry")
    target.add_argument("--stack")
    args = parser.parse_args()
    registry = args.registry
    if args.stack:
        stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        registry = outputs["AdSchemaRegistryName"]
    try:
        for line in register(boto3.client("glue"), registry):
            print(line)
    except Refused as refused:
        sys.exit(f"schema registry {registry} refused {refused}")


if __name__ == "__main__":
    main()
