"""The auditor's page verifies the log as ``sharehub audit verify`` does: the signed
checkpoints with the deployment's key and against their copy on the bus. A copy the
database does not match, or checkpoints without the key to check them, fail on the page."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import expect

from events.signed_checkpoints import CheckpointSigner
from tests.workers.api.journey import raise_one
from tests.workers.api.test_audit import sign_checkpoint
from tests.workers.console.conftest import Console
from workers.audit.checkpointer import checkpoint_copies
from workers.audit.keys import signing_key
from workers.settings import Settings


async def test_the_audit_page_compares_the_checkpoints_with_their_bus_copy(
    console: Console, settings: Settings
) -> None:
    api = console.api
    await raise_one(api)
    await api.quiet()
    await sign_checkpoint(api, settings)  # kept in the database and copied to the bus
    auditor = await console.visitor(api.callers.auditor)
    page = await auditor.open("/audit")
    await expect(page.get_by_text("The log is intact")).to_be_visible()
    await expect(page.get_by_text("Signature verified")).to_be_visible()
    await expect(page.locator("#bus-copy")).to_have_text("1 checkpoint compared with the bus copy")
    await auditor.checked()

    # A checkpoint on the bus that the database lacks: as if one had been removed from it.
    [kept] = await api.store.signed_checkpoints()
    removed = CheckpointSigner(signing_key(settings)).sign(
        tree_size=1, root_hash=kept.root_hash, head_hash=kept.head_hash, signed_at=datetime.now(UTC)
    )
    async with checkpoint_copies(settings) as copies:
        await copies.publish(removed)
    await page.reload()
    await expect(page.get_by_text("The log is not intact")).to_be_visible()
    await expect(page.get_by_text("The signed checkpoint at tree size 1 fails")).to_contain_text(
        "on the bus but missing from the database"
    )
    await expect(page.locator("#bus-copy")).to_have_text("2 checkpoints compared with the bus copy")
    await auditor.checked()

    # Without the public key, the signed checkpoints cannot be checked: a failure too.
    settings.resolved_audit_public_key_file().unlink()
    await page.reload()
    await expect(page.get_by_text("The log is not intact")).to_be_visible()
    await expect(page.get_by_text("The signed checkpoints cannot be checked")).to_contain_text(
        "no checkpoint public key at"
    )
    await expect(page.get_by_text("Not checked", exact=True)).to_be_visible()
    await expect(page.locator("#bus-copy")).to_have_text(
        "Not compared: there is no public key to check checkpoints with"
    )
    await auditor.checked()
