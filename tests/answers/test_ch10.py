"""Wrong and right answers for chapter 10's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "10"

SERVER = [
    Case("server-command", "ch10.W008", """
def server_command(workers):
    return ["{python}", "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers),
            "tripboard.asgi:application"]
""", "uvicorn: no HTTP/2"),
    Case("server-command", "ch10.W008", """
def server_command(workers):
    return ["{python}", "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "--workers", str(workers),
            "--bind", "127.0.0.1:{port}", "--no-control-socket", "tripboard.asgi:application"]
""", "gunicorn with uvicorn workers: no HTTP/2"),
    Case("server-command", "ch10.W007", """
def server_command(workers):
    return ["{python}", "-m", "daphne", "--bind", "127.0.0.1", "--port", "{port}", "tripboard.asgi:application"]
""", "daphne: no --workers at all"),
    Case("server-command", "ch10.W007", """
def server_command(workers):
    return ["{python}", "-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--workers", "2",
            "tripboard.asgi:application"]
""", "two workers, whatever was asked"),
    Case("server-command", "ch10.W006", """
def server_command(workers):
    return ["{python}", "-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--keep-alive", str(workers),
            "tripboard.asgi:application"]
""", "workers only in an unrelated option"),
    Case("server-command", "ch10.W005", """
def server_command(workers):
    return ["{python}", "-m", "hypercorn", "--bind", "0.0.0.0:{port}", "--workers", str(workers),
            "tripboard.asgi:application"]
""", "bound to 0.0.0.0"),
    Case("server-command", "ch10.W003", """
def server_command(workers):
    return ["{python}", "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", "{port}",
            "--workers", str(workers), "tripboard.wsgi:application"]
""", "the WSGI application"),
    Case("server-command", "ch10.W009", """
def server_command(workers):
    return ["{python}", "-m", "granian", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers),
            "tripboard.asgi:application"]
""", "granian without --interface asgi"),
    Case("server-command", "ch10.W002", """
def server_command(workers):
    return ["hypercorn", "--bind", "127.0.0.1:{port}", "--workers", str(workers), "tripboard.asgi:application"]
""", "a bare hypercorn"),
    Case("server-command", "ch10.W001", """
def server_command(workers):
    return f"python -m hypercorn --bind 127.0.0.1:{{port}} --workers {workers} tripboard.asgi:application"
""", "one string"),
    Case("server-command", "ch10.W004", """
def server_command(workers):
    return ["{python}", "-m", "hypercorn", "--bind", "127.0.0.1:8000", "--workers", str(workers),
            "tripboard.asgi:application"]
""", "a fixed port"),
    Case("server-command", PASS, """
def server_command(workers):
    return ["{python}", "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}",
            "--workers", str(workers), "tripboard.asgi:application"]
""", "granian"),
    Case("server-command", PASS, """
def server_command(workers):
    return ["{python}", "-m", "hypercorn", f"--workers={workers}", "-b", "127.0.0.1:{port}",
            "tripboard.asgi:application", "--graceful-timeout", "20"]
""", "hypercorn with = options"),
]

START = 'DEPLOY_SETTINGS = """\nfrom tripboard.settings import *\n'
GOOD = """
DEBUG = False
ALLOWED_HOSTS = ["trips.example.com"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 3600
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
"""


def settings_case(expect, body, note):
    return Case("deploy-settings", expect, START + body + '"""\n', note)


SETTINGS = [
    settings_case("ch10.W016", """
DEBUG = False
ALLOWED_HOSTS = ["trips.example.com"]
""", "only DEBUG and hosts"),
    settings_case("ch10.W015", GOOD.replace("DEBUG = False", 'DEBUG = "False"'), "DEBUG as a string"),
    settings_case("ch10.W014", """
DEBUG = False
ALLOWED_HOSTS = ["trips.example.com"]
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]
""", "warnings silenced"),
    settings_case("ch10.W017", GOOD.replace('SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")\n', ""),
                  "SSL redirect without the proxy header"),
    settings_case("ch10.W017", GOOD.replace('"HTTP_X_FORWARDED_PROTO"', '"X-Forwarded-Proto"'),
                  "the header as sent, not as Django reads it"),
    settings_case("ch10.W019", GOOD.replace('ALLOWED_HOSTS = ["trips.example.com"]', 'ALLOWED_HOSTS = ["*"]'),
                  "any host"),
    settings_case("ch10.W018", GOOD.replace('ALLOWED_HOSTS = ["trips.example.com"]',
                                            'ALLOWED_HOSTS = ["https://trips.example.com"]'), "a URL in ALLOWED_HOSTS"),
    settings_case("ch10.W016", GOOD.replace("SECURE_HSTS_SECONDS = 3600\n", "SECURE_HSTS_SECONDS = 0\n"),
                  "HSTS at 0"),
    settings_case("ch10.W016", GOOD.replace("CSRF_COOKIE_SECURE", "CSRF_COOKIES_SECURE"), "a misspelt setting"),
    settings_case("ch10.W016", GOOD + 'SECRET_KEY = "django-insecure-change-me"\n', "a placeholder secret key"),
    Case("deploy-settings", "ch10.W013", 'DEPLOY_SETTINGS = """' + GOOD + 'ROOT_URLCONF = "tripboard.urls"\n"""\n',
         "no import of tripboard.settings"),
    Case("deploy-settings", "ch10.W012", 'DEPLOY_SETTINGS = """\nimport os\nfrom tripboard.settings import *\n'
         'SECRET_KEY = os.environ["SECRET_KEY"]\n' + GOOD + '"""\n', "the secret key from a variable that is not set"),
    Case("deploy-settings", "ch10.W011", 'DEPLOY_SETTINGS = """\nfrom tripboard.settings import *\n'
         'DEBUG = False\nALLOWED_HOSTS = "trips.example.com",\nSECURE_SSL_REDIRECT: = True\n"""\n', "a syntax error"),
    Case("deploy-settings", "ch10.W010", """
DEPLOY_SETTINGS = {"DEBUG": False, "ALLOWED_HOSTS": ["trips.example.com"]}
""", "a dict of settings"),
    Case("deploy-settings", "ck.W004", 'DEPLOY_SETTINGS = """\nimport time\nfrom tripboard.settings import *\n'
         'time.sleep(3600)\n"""\n', "a module that never finishes loading"),
    Case("deploy-settings", PASS, 'DEPLOY_SETTINGS = """\nimport os\nfrom tripboard.settings import *  # noqa\n'
         'DEBUG = os.environ.get("DJANGO_DEBUG") == "1"\nSECRET_KEY = os.environ["DJANGO_SECRET_KEY"]\n'
         'ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "trips.example.com").split(",")\n'
         'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")\nSECURE_SSL_REDIRECT = True\n'
         'SECURE_HSTS_SECONDS = 60 * 60 * 24 * 30\nSECURE_HSTS_INCLUDE_SUBDOMAINS = True\n'
         'SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True\n"""\n', "from the environment, like settings_deploy"),
    Case("deploy-settings", PASS, 'DEPLOY_SETTINGS = """\nfrom tripboard.settings import *\n' + GOOD +
         'ALLOWED_HOSTS += [".trips.example.com"]\nSILENCED_SYSTEM_CHECKS = ["security.W021"]\n"""\n',
         "subdomains too, preload silenced on purpose"),
]

LAYERS = [
    Case("layer-across-processes", "ch10.W031", """
def channel_layers(redis_url):
    return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
""", "the in-memory layer"),
    Case("layer-across-processes", "ch10.W032", """
def channel_layers(redis_url):
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]}}}
""", "the default Redis port, hard-coded"),
    Case("layer-across-processes", "ch10.W030", """
def channel_layers(redis_url):
    return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
""", "the layer without its alias"),
    Case("layer-across-processes", "ch10.W034", """
def channel_layers(redis_url):
    return {"default": {"BACKEND": "channels.layers.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}}
""", "a backend that does not exist"),
    Case("layer-across-processes", "ch10.W034", """
def channel_layers(redis_url):
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": redis_url}}}
""", "hosts as a string"),
    Case("layer-across-processes", "ch10.W033", """
from channels_redis.core import RedisChannelLayer

def channel_layers(redis_url):
    return {"default": {"BACKEND": RedisChannelLayer, "CONFIG": {"hosts": [redis_url]}}}
""", "the class instead of its path"),
    Case("layer-across-processes", "ch10.W032", """
def channel_layers(redis_url):
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [redis_url.replace("redis://", "http://")]}}}
""", "an http:// URL"),
    Case("layer-across-processes", "ck.W004", """
import socket
import time

def channel_layers(redis_url):
    host, port = redis_url.split("//")[1].split("/")[0].split(":")
    while True:                      # wait until Redis answers before configuring the layer
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}}
""", "waits for a Redis that is not there yet"),
    Case("layer-across-processes", PASS, """
def channel_layers(redis_url):
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                        "CONFIG": {"hosts": [{"address": redis_url}]}}}
""", "the pub/sub layer, hosts as dicts"),
    Case("layer-across-processes", PASS, """
def channel_layers(redis_url):
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer",
             "CONFIG": {"hosts": [redis_url], "capacity": 500, "expiry": 30}}
    return {"default": layer}
""", "with capacity and expiry"),
]

CASES = SERVER + SETTINGS + LAYERS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
