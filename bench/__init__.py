"""``make bench``: the service's figures against floors measured in the same run (never part of ``make test``)."""
