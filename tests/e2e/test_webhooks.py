"""Webhooks over the wire, signed the way real senders sign them: the PyPI `standardwebhooks`
library, a `t=,v1=` signer and GitHub's `X-Hub-Signature-256`. Every negative vector of the
reliability plan's test 18 is refused with no job and no dedup record; attachments are stored
under the data dir whatever their names say."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import grpc
from conftest import SKILLOS, run, start_server
from google.protobuf import json_format
from standardwebhooks import Webhook

from skillos.v1 import job_pb2, job_service_pb2, job_service_pb2_grpc

STD_SECRET = "whsec_" + base64.b64encode(b"a standard webhooks key, 32 byte").decode()
LEGACY_SECRET = "legacy-secret-0123456789abcdef"
GH_SECRET = "It's a Secret to Everybody"

MANIFEST = """\
id: hooks/receive
name: Receive
description: Returns what a webhook delivered.
version: 1.0.0
entrypoint: implementations.hooks.receive:run
"""

IMPLEMENTATION = """\
def run(payload, ctx=None):
    return {"received": payload, "job_id": ctx.job_id}
"""

TRIGGERS = {
    "webhooks": [
        {
            "id": "std",
            "skill_id": "hooks/receive",
            "scheme": "standard_webhooks",
            "secret_env": "STD_HOOK_SECRET",
        },
        {"id": "legacy", "skill_id": "hooks/receive"},
        {
            "id": "gh",
            "skill_id": "hooks/receive",
            "scheme": "github_sha256",
            "secret_env": "GH_HOOK_SECRET",
            "payload_mapping": "request",
            "forwarded_headers": ["x-github-event"],
        },
    ]
}


def write_root(root: Path) -> None:
    (root / "metadata" / "hooks").mkdir(parents=True)
    (root / "metadata" / "hooks" / "receive.yaml").write_text(MANIFEST)
    (root / "implementations" / "hooks").mkdir(parents=True)
    (root / "implementations" / "__init__.py").write_text("")
    (root / "implementations" / "hooks" / "__init__.py").write_text("")
    (root / "implementations" / "hooks" / "receive.py").write_text(IMPLEMENTATION)
    (root / "triggers").mkdir()
    (root / "triggers" / "webhooks.json").write_text(json.dumps(TRIGGERS))


def post(
    server, trigger: str, body: bytes, headers: dict[str, str] | list[tuple[str, str]]
) -> tuple[int, dict]:
    """A POST whose headers are sent exactly as listed (repeats included)."""
    host, port = server.addr.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", f"/webhooks/{trigger}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def std_headers(
    msg_id: str, body: bytes, when: datetime | None = None, secret: str = STD_SECRET
) -> dict[str, str]:
    when = when or datetime.now(timezone.utc)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def legacy_header(body: bytes, t: int | None = None, secret: str = LEGACY_SECRET) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def gh_signature(body: bytes, secret: str = GH_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wait_succeeded(addr: str, job_id: str) -> job_pb2.Job:
    with grpc.insecure_channel(addr) as channel:
        stub = job_service_pb2_grpc.JobServiceStub(channel)
        deadline = time.monotonic() + 60
        while True:
            job = stub.GetJob(job_service_pb2.GetJobRequest(job_id=job_id)).job
            if job.state == job_pb2.JOB_STATE_SUCCEEDED:
                return job
            assert job.state in (job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING), job
            assert time.monotonic() < deadline, job
            time.sleep(0.1)


def counts(data: Path) -> tuple[int, int]:
    con = sqlite3.connect(data / "skillos.db")
    try:
        jobs = con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        deliveries = con.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0]
        return jobs, deliveries
    finally:
        con.close()


def test_real_signers_are_accepted_and_negative_vectors_leave_nothing(tmp_path: Path):
    root = tmp_path / "root"
    write_root(root)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(
        root,
        data,
        local_runner=True,
        extra_env={
            "STD_HOOK_SECRET": STD_SECRET,
            "SKILLOS_WEBHOOK_SECRET": LEGACY_SECRET,
            "GH_HOOK_SECRET": GH_SECRET,
        },
    )
    try:
        body = json.dumps({"order": "A-1", "amount": 5}).encode()
        # Negative vectors first (reliability plan, test 18): 400 or 401, no body detail.
        good = std_headers("msg_neg", body)
        good_sig = good["webhook-signature"].split(",", 1)[1]
        negatives = [
            ("std", {k: v for k, v in good.items() if k != "webhook-signature"}),
            ("std", {k: v for k, v in good.items() if k != "webhook-id"}),
            ("std", [*good.items(), ("webhook-signature", good["webhook-signature"])]),
            ("std", {**good, "webhook-signature": ""}),
            ("std", {**good, "webhook-signature": "v1,"}),
            ("std", {**good, "webhook-signature": "v1," + good_sig[:10]}),
            ("std", {**good, "webhook-signature": "v1," + good_sig + "A"}),
            (
                "std",
                {
                    **good,
                    "webhook-signature": "v1,"
                    + ("B" if good_sig[0] != "B" else "C")
                    + good_sig[1:],
                },
            ),
            ("std", {**good, "webhook-signature": "v1a," + good_sig}),
            ("std", std_headers("msg_neg", json.dumps({"order": "A-1", "amount": 6}).encode())),
            (
                "std",
                std_headers(
                    "msg_neg", body, secret="whsec_" + base64.b64encode(b"x" * 32).decode()
                ),
            ),
            ("std", {**good, "webhook-timestamp": "abc"}),
            ("std", {**good, "webhook-timestamp": "-5"}),
            ("std", {**good, "webhook-timestamp": "12345678901234567890"}),
            # Just outside ±300 s. Timestamps are whole seconds and the server's clock may tick
            # between signing and checking, so the future case is 302 s ahead (the unit tests
            # check ±301 s exactly, with a fixed clock).
            (
                "std",
                std_headers(
                    "msg_neg", body, datetime.fromtimestamp(int(time.time()) + 302, timezone.utc)
                ),
            ),
            (
                "std",
                std_headers(
                    "msg_neg", body, datetime.fromtimestamp(int(time.time()) - 301, timezone.utc)
                ),
            ),
            ("std", std_headers("msg.neg", body)),
            # Over the verifier's 8 KiB per signature header, within the edge's 16 KiB in all.
            ("std", {**good, "webhook-signature": "v1," + "A" * 12000}),
            ("legacy", {"X-SkillOS-Signature": legacy_header(body).split(",", 1)[1]}),
            ("legacy", {"X-SkillOS-Signature": f"t=1,{legacy_header(body)}"}),
            (
                "legacy",
                {"X-SkillOS-Signature": legacy_header(body, secret="another-secret-0123456789")},
            ),
            (
                "gh",
                {
                    "X-Hub-Signature": "sha1="
                    + hmac.new(GH_SECRET.encode(), body, hashlib.sha1).hexdigest(),
                    "X-GitHub-Delivery": "d-neg",
                },
            ),
            (
                "gh",
                {"X-Hub-Signature-256": gh_signature(body + b" "), "X-GitHub-Delivery": "d-neg"},
            ),
        ]
        for index, (trigger, headers) in enumerate(negatives):
            status, answer = post(server, trigger, body, headers)
            assert status in (400, 401), (index, trigger, headers, status, answer)
            assert answer["error"]["reason"] in ("INVALID_HEADERS", "SIGNATURE_INVALID"), answer
            assert "secret" not in answer["error"]["message"], answer
        # Headers over the edge's 16 KiB in all are refused before the verifier sees them.
        status, answer = post(
            server, "std", body, {**good, "webhook-signature": "v1," + "A" * 65536}
        )
        assert (status, answer["error"]["reason"]) == (431, "HEADERS_TOO_LARGE"), answer
        assert counts(data) == (0, 0), "a refused delivery left a job or a dedup record"

        # The real signers.
        status, std = post(server, "std", body, std_headers("msg_1", body))
        assert status == 202, std
        status, legacy = post(server, "legacy", body, {"X-SkillOS-Signature": legacy_header(body)})
        assert status == 202, legacy
        gh_body = json.dumps({"action": "opened", "number": 7}).encode()
        status, gh = post(
            server,
            "gh",
            gh_body,
            {
                "X-Hub-Signature-256": gh_signature(gh_body),
                "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                "X-GitHub-Event": "pull_request",
            },
        )
        assert status == 202, gh
        # GitHub's published vector through the same route.
        hello = b"Hello, World!"
        status, _ = post(
            server,
            "gh",
            hello,
            {
                "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                "X-GitHub-Delivery": "vector",
            },
        )
        assert status == 400, "the vector verifies, and its body is not a JSON object"
        assert counts(data) == (3, 3)

        for answer in (std, legacy):
            job = wait_succeeded(server.addr, answer["job_id"])
            output = json_format.MessageToDict(job.result)
            assert output["received"] == {"order": "A-1", "amount": 5}
            assert output["job_id"] == answer["job_id"]
        job = wait_succeeded(server.addr, gh["job_id"])
        received = json_format.MessageToDict(job.result)["received"]
        assert received["headers"]["x-github-event"] == "pull_request"
        assert received["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"

        # Replays: the same delivery again is a duplicate (200, same job), even without an id.
        status, again = post(server, "std", body, std_headers("msg_1", body))
        assert (status, again["job_id"], again["duplicate"]) == (200, std["job_id"], True)
        other = json.dumps({"order": "A-2", "amount": 7}).encode()
        header = legacy_header(other)
        first = post(server, "legacy", other, {"X-SkillOS-Signature": header})
        second = post(server, "legacy", other, {"X-SkillOS-Signature": header})
        assert (first[0], second[0]) == (202, 200) and first[1]["job_id"] == second[1]["job_id"]
        assert counts(data) == (4, 4)
    finally:
        assert server.stop() == 0


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_attachments_are_stored_by_hash_and_bad_ones_refused(tmp_path: Path):
    root = tmp_path / "root"
    write_root(root)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(
        root, data, local_runner=True, extra_env={"SKILLOS_WEBHOOK_SECRET": LEGACY_SECRET}
    )
    try:

        def deliver(attachments, key):
            body = json.dumps(
                {"payload": {"note": "scan"}, "attachments": attachments, "idempotency_key": key}
            ).encode()
            return post(server, "legacy", body, {"X-SkillOS-Signature": legacy_header(body)})

        encoded = base64.b64encode(PNG).decode()
        status, answer = deliver(
            [
                {
                    "filename": "../../../../etc/cron.d/evil.png",
                    "content_type": "image/png",
                    "data": encoded,
                }
            ],
            "a1",
        )
        assert status == 202, answer
        job = wait_succeeded(server.addr, answer["job_id"])
        received = json_format.MessageToDict(job.result)["received"]
        assert received["payload"] == {"note": "scan"}
        [reference] = received["attachments"]
        assert reference["filename"] == "evil.png"
        assert reference["size_bytes"] == len(PNG)
        stored = data / reference["reference"]
        assert stored.read_bytes() == PNG
        assert stored.resolve().is_relative_to((data / "attachments").resolve())
        assert reference["sha256"] == hashlib.sha256(PNG).hexdigest()

        for bad in (
            [
                {
                    "filename": "a.png",
                    "content_type": "image/png",
                    "data": base64.b64encode(b"\x7fELF....").decode(),
                }
            ],
            [{"filename": "a.png", "content_type": "image/png", "data": encoded + "\n"}],
            [
                {
                    "filename": "a.svg",
                    "content_type": "image/svg+xml",
                    "data": base64.b64encode(b"<svg/>").decode(),
                }
            ],
            "not a list",
        ):
            status, answer = deliver(bad, "b1")
            assert (status, answer["error"]["reason"]) == (400, "INVALID_ATTACHMENT"), answer
        big = base64.b64encode(b"x" * (10 * 1024 * 1024 + 1)).decode()
        status, answer = deliver(
            [{"filename": "big.txt", "content_type": "text/plain", "data": big}], "b2"
        )
        assert (status, answer["error"]["reason"]) == (413, "ATTACHMENT_TOO_LARGE"), answer
        assert counts(data) == (1, 1)
        # The corrected retry of a refused delivery is accepted.
        status, _ = deliver(
            [
                {
                    "filename": "ok.txt",
                    "content_type": "text/plain",
                    "data": base64.b64encode(b"fine").decode(),
                }
            ],
            "b1",
        )
        assert status == 202
        files = [p for p in (data / "attachments").rglob("*") if p.is_file()]
        assert len(files) == 2
    finally:
        assert server.stop() == 0


def test_the_cli_makes_a_trigger_whose_secret_signs_deliveries(tmp_path: Path):
    root = tmp_path / "root"
    write_root(root)
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(root, data, local_runner=True)
    try:
        cli = (SKILLOS, "--json", "webhooks")
        where = ("--server", server.addr)
        created = json.loads(
            run(
                *cli,
                "create",
                "hooks/receive",
                "--id",
                "shop",
                "--scheme",
                "standard_webhooks",
                *where,
            ).stdout
        )
        assert created["secret"].startswith("whsec_") and created["origin"] == "api"
        body = json.dumps({"order": "B-7"}).encode()
        status, answer = post(
            server, "shop", body, std_headers("evt_1", body, secret=created["secret"])
        )
        assert status == 202, answer
        assert wait_succeeded(server.addr, answer["job_id"])
        # The secret is never shown again; a rotation without grace retires it.
        shown = run(*cli, "get", "shop", *where).stdout
        assert (
            created["secret"] not in shown
            and json.loads(shown)["secrets"][0]["id"] == created["secret_id"]
        )
        rotated = json.loads(run(*cli, "rotate", "shop", "--grace", "0", *where).stdout)
        status, _ = post(server, "shop", body, std_headers("evt_2", body, secret=created["secret"]))
        assert status == 401
        status, _ = post(server, "shop", body, std_headers("evt_2", body, secret=rotated["secret"]))
        assert status == 202
        listed = json.loads(run(*cli, "list", *where).stdout)["triggers"]
        assert {t["id"]: t["origin"] for t in listed} == {
            "gh": "skills_root",
            "legacy": "skills_root",
            "shop": "api",
            "std": "skills_root",
        }
        readonly = run(*cli, "delete", "legacy", *where, check=False)
        assert (
            readonly.returncode == 1
            and json.loads(readonly.stdout)["error"]["reason"] == "TRIGGER_READ_ONLY"
        )
        bad = run(
            SKILLOS, "webhooks", "create", "hooks/receive", "--scheme", "md5", *where, check=False
        )
        assert bad.returncode == 2 and "--scheme" in bad.stderr
        run(*cli, "delete", "shop", *where)
        assert (
            post(server, "shop", body, std_headers("evt_3", body, secret=rotated["secret"]))[0]
            == 404
        )
    finally:
        assert server.stop() == 0
