"""The official OpenAI Python client's streaming images.generate / images.edit against the Worker.

Run by tests/worker/sdk-stream.test.mjs, which starts the Worker and the mock providers
and scripts the provider's streams: first a generation with two previews, then an edit with
one, then a refused generation. Usage:
  python openai_stream.py BASE_URL TOKEN IMAGE.png
Prints one JSON object: the events each call yielded, and the error the last one raised.
"""

import json
import sys

from openai import APIError, OpenAI


def events(stream):
    return [
        {
            "type": e.type,
            "index": getattr(e, "partial_image_index", None),
            "b64": e.b64_json,
            "provider": getattr(e, "provider", None),
        }
        for e in stream
    ]


def main():
    base_url, token, image = sys.argv[1:4]
    client = OpenAI(api_key=token, base_url=base_url, max_retries=0, timeout=60)
    out = {}
    out["generate"] = events(
        client.images.generate(prompt="a lighthouse", stream=True, partial_images=2)
    )
    with open(image, "rb") as f:
        out["edit"] = events(
            client.images.edit(image=f, prompt="make it blue", stream=True, partial_images=1)
        )
    seen = []
    try:
        for e in client.images.generate(prompt="refused", stream=True):
            seen.append(e.type)
        out["error"] = None
    except APIError as e:
        out["error"] = {"code": e.code, "type": e.type, "seen": seen, "message": str(e.message)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
