"""Partitions: how an asset splits into keyed slices, and how slices map between assets.

Pure Python (no Ray, pandas or SQL); ``croniter`` is imported only for unusual cron schedules.
"""

from raystra.definitions._partitions._backfill_policy import BackfillPolicy
from raystra.definitions._partitions._base import (
    DynamicPartitionsStore,
    PartitionKeyRange,
    PartitionsDefinition,
    TimeWindow,
)
from raystra.definitions._partitions._dynamic import (
    DynamicPartitionsDefinition,
    InMemoryDynamicPartitionsStore,
)
from raystra.definitions._partitions._mappings import (
    AllPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    PartitionMapping,
    StaticPartitionMapping,
)
from raystra.definitions._partitions._multi import MultiPartitionKey, MultiPartitionsDefinition
from raystra.definitions._partitions._multi_mapping import MultiToSingleDimensionPartitionMapping
from raystra.definitions._partitions._resolve import (
    default_partition_mapping,
    resolve_partition_mapping,
)
from raystra.definitions._partitions._static import StaticPartitionsDefinition
from raystra.definitions._partitions._time import TimeWindowPartitionsDefinition
from raystra.definitions._partitions._time_mapping import TimeWindowPartitionMapping
from raystra.definitions._partitions._time_presets import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

__all__ = [
    "AllPartitionMapping",
    "BackfillPolicy",
    "DailyPartitionsDefinition",
    "DynamicPartitionsDefinition",
    "DynamicPartitionsStore",
    "HourlyPartitionsDefinition",
    "IdentityPartitionMapping",
    "InMemoryDynamicPartitionsStore",
    "LastPartitionMapping",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionsDefinition",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "default_partition_mapping",
    "resolve_partition_mapping",
]
