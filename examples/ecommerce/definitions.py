"""The project's `Definitions`: what ``raystra ... -m examples.ecommerce.definitions`` loads.

Run everything from the repository root::

    raystra materialize -m examples.ecommerce.definitions --select '*'
    raystra job run -m examples.ecommerce.definitions train_model_job

or from Python::

    import raystra
    from examples.ecommerce.definitions import defs

    raystra.materialize(defs, run_config={"ops": {"daily_sales": {"config": {"rows": 20_000}}}})
    raystra.execute_job(defs, "train_model_job")
"""

from __future__ import annotations

from examples.ecommerce.assets import clean_sales, daily_sales, sales_by_customer
from examples.ecommerce.jobs import train_model_job
from examples.ecommerce.report import revenue_report
from examples.ecommerce.resources import LandingZone, ReportsDir
from raystra import Definitions

defs = Definitions(
    assets=[daily_sales, clean_sales, sales_by_customer, revenue_report],
    jobs=[train_model_job],
    resources={"landing": LandingZone(), "reports": ReportsDir()},
)
