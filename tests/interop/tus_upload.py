"""Uploads a file to a tus server with tuspy (an independent tus client), for central's tests.

    tus_upload.py ENDPOINT FILE CHUNK_SIZE METADATA_JSON [--chunks N] [--resume URL]

Sends at most N chunks when --chunks is given (an interrupted upload); continues the upload
at URL from the offset the server reports when --resume is given. Prints the upload URL and
the offset reached, as JSON.
"""
import json
import sys

from tusclient import client


def main():
    endpoint, path, chunk_size, metadata = sys.argv[1:5]
    rest = sys.argv[5:]
    chunks = None
    resume = None
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--chunks":
            chunks = int(value)
        elif flag == "--resume":
            resume = value
        else:
            raise SystemExit(f"unknown flag {flag}")
    c = client.TusClient(endpoint)
    uploader = c.uploader(
        file_path=path,
        chunk_size=int(chunk_size),
        metadata=json.loads(metadata),
        url=resume,
        upload_checksum=True,
    )
    if chunks is None:
        uploader.upload()
    else:
        for _ in range(chunks):
            uploader.upload_chunk()
    print(json.dumps({"url": uploader.url, "offset": uploader.offset}))


if __name__ == "__main__":
    main()
