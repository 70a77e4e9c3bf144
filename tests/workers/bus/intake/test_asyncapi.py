"""The AsyncAPI document of bus intake, as the API serves it at ``/asyncapi``."""

from __future__ import annotations

import json

from workers.bus.intake.asyncapi import intake_asyncapi


def test_the_asyncapi_document_lists_the_intake_subjects_and_message_schemas() -> None:
    document = intake_asyncapi(server_url="nats://bus.sharehub.example:4222")

    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "sharehub.intake.{agency}.requests",
        "sharehub.intake.{agency}.acknowledgements",
        "sharehub.replies.{agency}",
        "sharehub.dead-letter.intake.{agency}",
    }
    actions = {
        document["channels"][op["channel"]["$ref"].split("/")[-1]]["address"]: op["action"]
        for op in document["operations"].values()
    }
    assert actions["sharehub.intake.{agency}.requests"] == "receive"
    assert actions["sharehub.replies.{agency}"] == "send"
    schemas = document["components"]["schemas"]
    assert {"IntakeRaise", "IntakeAcknowledgement", "IntakeReply", "ShareRequestSubmission"} <= set(
        schemas
    )
    payloads = {
        channel["address"]: document["components"]["messages"][
            next(iter(channel["messages"].values()))["$ref"].split("/")[-1]
        ]["payload"]["$ref"].split("/")[-1]
        for channel in document["channels"].values()
    }
    assert payloads["sharehub.intake.{agency}.requests"] == "IntakeRaise"
    assert payloads["sharehub.intake.{agency}.acknowledgements"] == "IntakeAcknowledgement"
    assert payloads["sharehub.replies.{agency}"] == "IntakeReply"
    assert set(schemas["IntakeRaise"]["required"]) == {"request_id", "submission"}
    assert set(schemas["IntakeAcknowledgement"]["required"]) == {
        "request_id",
        "disclosure_id",
        "acknowledged_by",
    }
    assert {"outcome", "reasons", "request_id"} <= set(schemas["IntakeReply"]["properties"])
    assert document["servers"]["development"]["host"] == "bus.sharehub.example:4222"
    json.dumps(document)  # servable as it is
