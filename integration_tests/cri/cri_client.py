#!/usr/bin/python3
"""A minimal CRI (runtime.v1) client for the integration tests.

Debian ships no crictl, so this calls the kubelet's API of a containerd CRI
plugin directly: the few messages the tests need are encoded and decoded here
by hand (protobuf wire format; field numbers from k8s.io/cri-api's
pkg/apis/runtime/v1/api.proto) and sent with grpcio's generic unary calls.

    cri_client.py SOCKET METHOD [REQUEST_JSON]
    cri_client.py SOCKET < REQUEST_LINES

METHOD is a RuntimeService or ImageService method (RunPodSandbox,
ImageStatus, ...). REQUEST_JSON is the request as a JSON object whose keys are
the proto field names; enum fields take their names (NODE, CONTAINER_RUNNING).
The response is printed as a JSON object (bytes fields as UTF-8 text, enums
as names, fields the schema below does not know are skipped). A gRPC error
prints `METHOD: CODE: details` on stderr and exits 1.

Without METHOD it serves many calls over one connection (python and grpc
start slowly in an emulated VM): each stdin line `{"method": M, "request":
{...}}` is answered by one stdout line, `{"response": {...}}` or `{"error":
"M: CODE: details"}`, until stdin ends. Every call has a deadline (env
CRI_CLIENT_TIMEOUT, seconds, default 20).
"""

import json
import os
import sys

import grpc

# Field types: scalar names, "map" (map<string,string>), "enum:<Name>", or a
# message name; a list [type] is a repeated field.
MESSAGES = {
    "VersionRequest": {"version": (1, "string")},
    "VersionResponse": {
        "version": (1, "string"),
        "runtime_name": (2, "string"),
        "runtime_version": (3, "string"),
        "runtime_api_version": (4, "string"),
    },
    "PodSandboxMetadata": {
        "name": (1, "string"),
        "uid": (2, "string"),
        "namespace": (3, "string"),
        "attempt": (4, "uint32"),
    },
    "NamespaceOption": {
        "network": (1, "enum:NamespaceMode"),
        "pid": (2, "enum:NamespaceMode"),
        "ipc": (3, "enum:NamespaceMode"),
    },
    "LinuxSandboxSecurityContext": {
        "namespace_options": (1, "NamespaceOption"),
        "privileged": (6, "bool"),
    },
    "LinuxPodSandboxConfig": {
        "cgroup_parent": (1, "string"),
        "security_context": (2, "LinuxSandboxSecurityContext"),
        "sysctls": (3, "map"),
    },
    "PodSandboxConfig": {
        "metadata": (1, "PodSandboxMetadata"),
        "hostname": (2, "string"),
        "log_directory": (3, "string"),
        "labels": (6, "map"),
        "annotations": (7, "map"),
        "linux": (8, "LinuxPodSandboxConfig"),
    },
    "RunPodSandboxRequest": {
        "config": (1, "PodSandboxConfig"),
        "runtime_handler": (2, "string"),
    },
    "RunPodSandboxResponse": {"pod_sandbox_id": (1, "string")},
    "StopPodSandboxRequest": {"pod_sandbox_id": (1, "string")},
    "StopPodSandboxResponse": {},
    "RemovePodSandboxRequest": {"pod_sandbox_id": (1, "string")},
    "RemovePodSandboxResponse": {},
    "PodSandboxStatusRequest": {
        "pod_sandbox_id": (1, "string"),
        "verbose": (2, "bool"),
    },
    "PodSandboxStatus": {
        "id": (1, "string"),
        "metadata": (2, "PodSandboxMetadata"),
        "state": (3, "enum:PodSandboxState"),
        "created_at": (4, "int64"),
    },
    "PodSandboxStatusResponse": {
        "status": (1, "PodSandboxStatus"),
        "info": (2, "map"),
    },
    "PodSandbox": {
        "id": (1, "string"),
        "metadata": (2, "PodSandboxMetadata"),
        "state": (3, "enum:PodSandboxState"),
    },
    "ListPodSandboxRequest": {},
    "ListPodSandboxResponse": {"items": (1, ["PodSandbox"])},
    "ImageSpec": {"image": (1, "string")},
    "LinuxContainerResources": {
        "cpu_period": (1, "int64"),
        "cpu_quota": (2, "int64"),
        "cpu_shares": (3, "int64"),
        "memory_limit_in_bytes": (4, "int64"),
        "oom_score_adj": (5, "int64"),
        "cpuset_cpus": (6, "string"),
        "cpuset_mems": (7, "string"),
        "unified": (9, "map"),
        "memory_swap_limit_in_bytes": (10, "int64"),
    },
    "LinuxContainerConfig": {"resources": (1, "LinuxContainerResources")},
    "ContainerMetadata": {"name": (1, "string"), "attempt": (2, "uint32")},
    "ContainerConfig": {
        "metadata": (1, "ContainerMetadata"),
        "image": (2, "ImageSpec"),
        "command": (3, ["string"]),
        "args": (4, ["string"]),
        "working_dir": (5, "string"),
        "labels": (9, "map"),
        "annotations": (10, "map"),
        "log_path": (11, "string"),
        "linux": (15, "LinuxContainerConfig"),
    },
    "CreateContainerRequest": {
        "pod_sandbox_id": (1, "string"),
        "config": (2, "ContainerConfig"),
        "sandbox_config": (3, "PodSandboxConfig"),
    },
    "CreateContainerResponse": {"container_id": (1, "string")},
    "StartContainerRequest": {"container_id": (1, "string")},
    "StartContainerResponse": {},
    "StopContainerRequest": {"container_id": (1, "string"), "timeout": (2, "int64")},
    "StopContainerResponse": {},
    "RemoveContainerRequest": {"container_id": (1, "string")},
    "RemoveContainerResponse": {},
    "ContainerStatusRequest": {"container_id": (1, "string"), "verbose": (2, "bool")},
    "ContainerResources": {"linux": (1, "LinuxContainerResources")},
    "ContainerStatus": {
        "id": (1, "string"),
        "metadata": (2, "ContainerMetadata"),
        "state": (3, "enum:ContainerState"),
        "created_at": (4, "int64"),
        "started_at": (5, "int64"),
        "finished_at": (6, "int64"),
        "exit_code": (7, "int32"),
        "image": (8, "ImageSpec"),
        "reason": (10, "string"),
        "message": (11, "string"),
        "log_path": (15, "string"),
        "resources": (16, "ContainerResources"),
    },
    "ContainerStatusResponse": {"status": (1, "ContainerStatus"), "info": (2, "map")},
    "ContainerFilter": {"id": (1, "string"), "pod_sandbox_id": (3, "string")},
    "Container": {
        "id": (1, "string"),
        "pod_sandbox_id": (2, "string"),
        "metadata": (3, "ContainerMetadata"),
        "state": (6, "enum:ContainerState"),
    },
    "ListContainersRequest": {"filter": (1, "ContainerFilter")},
    "ListContainersResponse": {"containers": (1, ["Container"])},
    "ExecSyncRequest": {
        "container_id": (1, "string"),
        "cmd": (2, ["string"]),
        "timeout": (3, "int64"),
    },
    "ExecSyncResponse": {
        "stdout": (1, "bytes"),
        "stderr": (2, "bytes"),
        "exit_code": (3, "int32"),
    },
    "ImageStatusRequest": {"image": (1, "ImageSpec"), "verbose": (2, "bool")},
    "Image": {
        "id": (1, "string"),
        "repo_tags": (2, ["string"]),
        "repo_digests": (3, ["string"]),
        "size": (4, "uint64"),
    },
    "ImageStatusResponse": {"image": (1, "Image"), "info": (2, "map")},
}

ENUMS = {
    "NamespaceMode": ["POD", "CONTAINER", "NODE", "TARGET"],
    "PodSandboxState": ["SANDBOX_READY", "SANDBOX_NOTREADY"],
    "ContainerState": [
        "CONTAINER_CREATED",
        "CONTAINER_RUNNING",
        "CONTAINER_EXITED",
        "CONTAINER_UNKNOWN",
    ],
}

SERVICES = {
    "runtime.v1.ImageService": ["ImageStatus"],
    "runtime.v1.RuntimeService": [
        "Version",
        "RunPodSandbox",
        "StopPodSandbox",
        "RemovePodSandbox",
        "PodSandboxStatus",
        "ListPodSandbox",
        "CreateContainer",
        "StartContainer",
        "StopContainer",
        "RemoveContainer",
        "ListContainers",
        "ContainerStatus",
        "ExecSync",
    ],
}

VARINT_TYPES = ("bool", "int32", "int64", "uint32", "uint64")


def varint(n):
    n &= (1 << 64) - 1  # negative int32/int64: ten bytes, two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number, wire_type):
    return varint(number << 3 | wire_type)


def length_delimited(number, payload):
    return key(number, 2) + varint(len(payload)) + payload


def encode_value(number, kind, value):
    if kind in VARINT_TYPES:
        return key(number, 0) + varint(int(value))
    if kind.startswith("enum:"):
        if isinstance(value, str):
            value = ENUMS[kind[5:]].index(value)
        return key(number, 0) + varint(value)
    if kind == "string":
        return length_delimited(number, value.encode())
    if kind == "bytes":
        return length_delimited(number, bytes(value))
    if kind == "map":
        return b"".join(
            length_delimited(number, encode_value(1, "string", k) + encode_value(2, "string", v))
            for k, v in value.items()
        )
    return length_delimited(number, encode(kind, value))


def encode(message, fields):
    schema = MESSAGES[message]
    out = b""
    for name, value in fields.items():
        if name not in schema:
            raise ValueError(f"{message} has no field {name!r} here")
        number, kind = schema[name]
        values = value if isinstance(kind, list) else [value]
        kind = kind[0] if isinstance(kind, list) else kind
        for item in values:
            out += encode_value(number, kind, item)
    return out


def read_varint(data, pos):
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def wire_fields(data):
    """(field number, wire type, raw value) of each field in `data`."""
    pos = 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = read_varint(data, pos)
        elif wire_type == 2:
            size, pos = read_varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire_type == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire_type == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        yield number, wire_type, value


def signed(value, bits):
    value &= (1 << 64) - 1
    if bits == 32:
        value &= 0xFFFFFFFF
    return value - (1 << bits) if value >> (bits - 1) else value


def decode_value(kind, raw):
    if kind == "bool":
        return bool(raw)
    if kind in ("int32", "int64"):
        return signed(raw, int(kind[3:]))
    if kind in ("uint32", "uint64"):
        return raw
    if kind.startswith("enum:"):
        names = ENUMS[kind[5:]]
        return names[raw] if raw < len(names) else raw
    if kind in ("string", "bytes"):
        return bytes(raw).decode(errors="replace")
    return decode(kind, raw)


def decode(message, data):
    by_number = {number: (name, kind) for name, (number, kind) in MESSAGES[message].items()}
    out = {}
    for number, _, raw in wire_fields(data):
        if number not in by_number:
            continue
        name, kind = by_number[number]
        if kind == "map":
            entry = {n: bytes(v).decode(errors="replace") for n, _, v in wire_fields(raw)}
            out.setdefault(name, {})[entry.get(1, "")] = entry.get(2, "")
        elif isinstance(kind, list):
            out.setdefault(name, []).append(decode_value(kind[0], raw))
        else:
            out[name] = decode_value(kind, raw)
    return out


def service_of(method):
    for service, methods in SERVICES.items():
        if method in methods:
            return service
    raise ValueError(f"unknown method {method!r}")


def call(channel, method, request):
    timeout = float(os.environ.get("CRI_CLIENT_TIMEOUT", "20"))
    stub = channel.unary_unary(
        f"/{service_of(method)}/{method}",
        request_serializer=lambda fields: encode(method + "Request", fields),
        response_deserializer=lambda data: decode(method + "Response", data),
    )
    return stub(request, timeout=timeout)


def answer(channel, method, request):
    """The reply line's object for one call."""
    try:
        return {"response": call(channel, method, request)}
    except grpc.RpcError as err:
        return {"error": f"{method}: {err.code().name}: {err.details()}"}
    except (ValueError, KeyError, TypeError) as err:
        return {"error": f"{method}: {err}"}


def serve(channel):
    for line in sys.stdin:
        ask = json.loads(line)
        reply = answer(channel, ask.get("method", ""), ask.get("request", {}))
        print(json.dumps(reply, sort_keys=True), flush=True)
    return 0


def main(argv):
    if len(argv) not in (2, 3, 4):
        raise SystemExit("usage: cri_client.py SOCKET [METHOD [REQUEST_JSON]]")
    with grpc.insecure_channel(f"unix://{argv[1]}") as channel:
        if len(argv) == 2:
            return serve(channel)
        request = json.loads(argv[3]) if len(argv) == 4 else {}
        reply = answer(channel, argv[2], request)
    if "error" in reply:
        print(reply["error"], file=sys.stderr)
        return 1
    print(json.dumps(reply["response"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
