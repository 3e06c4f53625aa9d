"""Research code behind the library's defaults: data loaders, episodes, evaluation, meta-training.

The library (``intentmeta`` outside this package) never imports it.
"""
