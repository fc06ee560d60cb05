"""The e-commerce tutorial pipeline: a day of orders, cleaned, aggregated, reported and modelled.

Assets (``raystra assets list -m examples.ecommerce.definitions``)::

    daily_sales  ->  clean_sales  ->  sales_by_customer  ->  revenue_report
       (ingest)        (sales)            (sales)       \\-->   (reporting)

plus the op-based ``train_model_job`` (``extract_features -> train_model``), which reads the
stored ``sales_by_customer`` table.

Run it from the repository root::

    raystra materialize -m examples.ecommerce.definitions --select '*'
    raystra job run -m examples.ecommerce.definitions train_model_job

Files land under ``$RAYSTRA_HOME`` (default ``~/.raystra``): the raw CSV in ``landing/``, the
Parquet tables in ``storage/``, the PDF in ``reports/revenue_report.pdf``.
"""
