//! Small serde helpers shared by the spec types.

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default (empty list, empty string, false),
/// as Go's encoding/json does and so runc accepts.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// For `skip_serializing_if`: a flag that is off is left out.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// For `skip_serializing_if`: a number that is zero is left out.
pub(crate) fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// For `skip_serializing_if`: a signed number that is zero is left out.
pub(crate) fn is_zero_i32(value: &i32) -> bool {
    *value == 0
}
