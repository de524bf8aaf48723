"""Tests of mailpolicy.runtime: rule table + data → envelope → message."""
