"""The ``wpigz`` program: ``_launch`` starts it cheaply (the console script and ``python -m
wpigz``), ``options`` parses pigz's options into one ``Settings`` (and prints the option
table the docs carry), ``cli`` runs each file through compressing or decoding, ``files`` opens,
replaces and removes files as pigz and gzip do, ``listing`` answers ``-l`` and ``progress``
draws the bar (the only module that imports tqdm). It may import every layer below it
(``wpigz.decode``, ``wpigz.encode``, ``wpigz.sandbox``, ``wpigz._record``) and the package's
``__version__``, never ``wpigz.api`` or ``wpigz.web``: the program and the library are
siblings built on the same layers."""
