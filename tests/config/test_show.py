"""``config show`` reads like the example config: multi-line templates as
YAML block scalars, unicode as it is, and it reads back as the same settings."""

from __future__ import annotations

import yaml

from tests.mfcli import Mediaforge


def test_config_show_writes_templates_as_block_scalars_with_unicode(mf: Mediaforge) -> None:
    mf.configure(
        "notify:\n"
        "  body: |-\n"
        "    **{name}** → {status}\n"
        "    Größe: {output_size}, a long line that a width-limited dump would fold"
        " with a backslash continuation somewhere past eighty columns\n"
    )

    shown = mf.ok("config", "show").out
    as_json = mf.ok("config", "show", "--json").json()

    assert "  body: |-\n    **{name}** → {status}\n    Größe: {output_size}, a long" in shown
    assert "digest_body: |" in shown  # the built-in multi-line default too
    assert "\\u" not in shown
    assert not any(line.endswith("\\") for line in shown.splitlines())
    assert yaml.safe_load(shown) == as_json
