"""The naive bulk render (benchmark 2's comparator): `python naive_render.py DATA.json OUT_DIR`.

For every relation of the data file: values, MJML filled and rendered, EmailMessage, one .eml
file, as in `naive.py`. Addresses are taken as a user would without a policy engine: From the
sending user (jan), To the relation's addresses, no resolution rules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FIRM = {"name": "Cabinet Dupont & Associés", "company": "info@dupont-associes.be"}


def main() -> None:
    """Render every relation of argv[1] into argv[2]."""
    data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    source = (EXAMPLES / "templates" / "mailing.mjml").read_text(encoding="utf-8")
    for relation in data["relations"]:
        values = naive.values_for(FIRM, relation, None)
        message = naive.naive_message(
            source,
            naive.TEXT_TEMPLATES["mailing"],
            values,
            from_name=FIRM["name"],
            from_address="jan@dupont-associes.be",
            to=list(relation["emails"]),
            cc=[],
            reply_to=[FIRM["company"]],
            subject=f"Nouvelles de {FIRM['name']}",
        )
        (out / f"{relation['id']}.eml").write_bytes(message)
    print(f"{len(data['relations'])} written to {out}")


if __name__ == "__main__":
    main()
