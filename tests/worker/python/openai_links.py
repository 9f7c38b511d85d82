"""The official OpenAI Python client's images.generate / images.edit with response_format="url".

Run by tests/worker/sdk-links.test.mjs, which starts the Worker and the mock providers.
Usage:
  python openai_links.py BASE_URL TOKEN IMAGE.png
Downloads each returned link (no token: the link is signed) and prints one JSON object with,
per call, each image's url, whether b64_json was empty, and the SHA-256 and size of the bytes
the link served.
"""

import hashlib
import json
import sys
import urllib.request

from openai import OpenAI


def fetched(data):
    out = []
    for image in data:
        with urllib.request.urlopen(image.url, timeout=30) as response:
            body = response.read()
            out.append(
                {
                    "url": image.url,
                    "b64_json": image.b64_json,
                    "status": response.status,
                    "content_type": response.headers.get("content-type"),
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "bytes": len(body),
                }
            )
    return out


def main():
    base_url, token, image = sys.argv[1:4]
    client = OpenAI(api_key=token, base_url=base_url, max_retries=0, timeout=60)
    generated = client.images.generate(prompt="links from python", n=2, response_format="url")
    with open(image, "rb") as f:
        edited = client.images.edit(image=f, prompt="edit as a link", response_format="url")
    print(json.dumps({"generate": fetched(generated.data), "edit": fetched(edited.data)}))


if __name__ == "__main__":
    main()
