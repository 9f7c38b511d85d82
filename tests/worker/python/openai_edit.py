"""The official OpenAI Python client's images.edit(...) against the Worker.

Run by tests/worker/python-sdk.test.mjs, which starts the Worker and the mock
providers, writes the images and checks what the providers received. Usage:
  python openai_edit.py BASE_URL TOKEN A.png B.png C.png MASK.png SMALL_MASK.png
Prints one JSON object: what each call returned.
"""

import json
import sys

from openai import BadRequestError, OpenAI


def read(path):
    with open(path, "rb") as f:
        return f.read()


def summary(result):
    return {
        "images": len(result.data),
        "b64": [d.b64_json for d in result.data],
        "providers": [getattr(d, "provider", None) for d in result.data],
    }


def main():
    base_url, token, a, b, c, mask, small_mask = sys.argv[1:8]
    client = OpenAI(api_key=token, base_url=base_url, max_retries=0, timeout=60)
    out = {}
    # One image as an open file (its type guessed from the name), no mask.
    with open(a, "rb") as f:
        out["one"] = summary(client.images.edit(image=f, prompt="add a hat"))
    # One image and a mask as bare bytes: sent as application/octet-stream.
    out["one_mask"] = summary(
        client.images.edit(image=read(a), mask=read(mask), prompt="add a hat", n=2)
    )
    # Several images (sent as image[]), without and with a mask.
    files = [(p.rsplit("/", 1)[-1], read(p), "image/png") for p in (a, b, c)]
    out["several"] = summary(client.images.edit(image=files, prompt="merge", size="1024x1024"))
    out["several_mask"] = summary(
        client.images.edit(image=files, mask=("mask.png", read(mask), "image/png"), prompt="merge")
    )
    try:
        client.images.edit(image=files, mask=read(small_mask), prompt="merge")
        out["error"] = None
    except BadRequestError as e:
        out["error"] = {"status": e.status_code, "param": e.param, "code": e.code}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
