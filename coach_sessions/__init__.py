"""Coach Sessions domain package: settings, models, rules, repositories (all SQL) and providers."""
