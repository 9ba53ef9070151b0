"""Django's test client against web_django (in this process), for
tests/integration/test_web_django.py.

    python web_django_client.py SCENARIO

prints one JSON object: the statuses and bodies of the responses, and for
"secrets" the secret values that were sent (taken back out of the request
headers after the dump, so that no other object held them before).
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web_django")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402


def fresh():
    return os.urandom(8).hex()


def main(scenario):
    client = Client(raise_request_exception=False)
    out = {"responses": []}

    def get(path, **extra):
        r = client.get(path, **extra)
        out["responses"].append([r.status_code,
                                 r.content.decode("utf-8", "replace")])
        return r

    if scenario == "fail":
        get("/ok/")
        get("/fail/?q=1&token=abc", HTTP_COOKIE="sessionid=abc; prefs=x",
            HTTP_AUTHORIZATION="Bearer abc", HTTP_X_API_KEY="abc",
            HTTP_USER_AGENT="heapdump-tests")
        get("/ok/")
        get("/missing/")
    elif scenario == "async":
        import asyncio

        from django.test import AsyncClient

        async def run():
            c = AsyncClient(raise_request_exception=False)
            for path in ("/async/?q=1&token=abc", "/fail/", "/ok/"):
                r = await c.get(path, headers={
                    "User-Agent": "heapdump-tests",
                    "Cookie": "sessionid=abc",
                    "Authorization": "Bearer abc", "X-Api-Key": "abc"})
                out["responses"].append([r.status_code, ""])

        asyncio.run(run())
    elif scenario == "middleware":
        get("/mw-fail/")
        get("/ok/")
    elif scenario == "user":
        get("/user/")
    elif scenario == "burst":
        for _ in range(200):
            get("/fail/")
        get("/other/")
        get("/ok/")
        out["responses"] = sorted(set(map(tuple, out["responses"])))
    elif scenario == "secrets":
        headers = {
            "HTTP_COOKIE": "sessionid=cookie%s; prefs=prefs%s"
                           % (fresh(), fresh()),
            "HTTP_AUTHORIZATION": "Bearer auth%s" % fresh(),
            "HTTP_X_API_KEY": "apikey%s" % fresh(),
        }
        get("/fail/", **headers)
        cookie = headers["HTTP_COOKIE"]
        out["secrets"] = {
            "cookie": cookie.split(";")[0].split("=")[1],
            "cookie2": cookie.split(";")[1].split("=")[1],
            "auth": headers["HTTP_AUTHORIZATION"].split()[1],
            "apikey": headers["HTTP_X_API_KEY"],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
