"""The software version recorded in every run and evidence package."""

from importlib.metadata import PackageNotFoundError, version

try:
    SOFTWARE_VERSION = version("safecity")
except PackageNotFoundError:  # running from a source tree without install
    SOFTWARE_VERSION = "0.0.0+source"
