//! The query parameters a `Query<T>` extractor reads: the field names of
//! `T`'s `Deserialize` impl, learned by a deserializer that records what
//! `T` asks for and stops there. A derived impl for a struct calls
//! `deserialize_struct` with every name it accepts (renames and aliases
//! included); anything else (`#[serde(flatten)]`, which asks for a map,
//! maps, enums, a hand-written impl) teaches nothing, and the route then
//! keys on every parameter.

use crate::key::QueryPolicy;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;

/// The parameter names `T` deserializes from a query string, or `None`
/// when they cannot be learned.
///
/// ```
/// use cache_runtime::__private_0_1_0::query_fields;
///
/// #[derive(serde::Deserialize)]
/// struct Page {
///     page: Option<u32>,
///     #[serde(rename = "per-page", alias = "limit")]
///     per_page: Option<u32>,
/// }
/// assert_eq!(query_fields::<Page>(), Some(&["page", "limit", "per-page"][..]));
/// assert_eq!(query_fields::<std::collections::HashMap<String, String>>(), None);
/// ```
pub fn query_fields<T: for<'de> Deserialize<'de>>() -> Option<&'static [&'static str]> {
    let mut recorder = Recorder(None);
    // The recorder always fails: only what it saw matters.
    let _ = T::deserialize(&mut recorder);
    recorder.0
}

/// The key's query policy for a handler whose `Query<…>` extractors learn
/// their fields with `learners` (one per extractor): the union of their
/// names, or every parameter when one cannot tell. Runs once per route.
pub fn learned_query(learners: &[fn() -> Option<&'static [&'static str]>]) -> QueryPolicy {
    let mut names: Vec<&'static str> = Vec::new();
    for learn in learners {
        match learn() {
            Some(fields) if learners.len() == 1 => return QueryPolicy::Allow(fields),
            Some(fields) => {
                for field in fields {
                    if !names.contains(field) {
                        names.push(field);
                    }
                }
            }
            None => {
                tracing::debug!(
                    "route cache: a Query<T> extractor's fields cannot be learned \
                     (flatten, a map, a custom Deserialize); keying on every query parameter"
                );
                return QueryPolicy::All;
            }
        }
    }
    // Once per route with several `Query` extractors: a leak of a few
    // names, for the process's life, like the route itself.
    QueryPolicy::Allow(Box::leak(names.into_boxed_slice()))
}

struct Recorder(Option<&'static [&'static str]>);

/// Ends the recording deserializer's run.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for &mut Recorder {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    struct Search {
        query_text: String,
        #[serde(default)]
        page: u32,
        #[serde(alias = "n")]
        limit: Option<u32>,
        #[serde(skip)]
        never: u8,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Flattened {
        page: u32,
        #[serde(flatten)]
        rest: HashMap<String, String>,
    }

    #[derive(Deserialize)]
    #[serde(transparent)]
    #[allow(dead_code)]
    struct Wrapped(Search);

    #[derive(Deserialize)]
    struct Nothing {}

    #[test]
    fn struct_fields_are_learned_with_renames_and_aliases() {
        assert_eq!(
            query_fields::<Search>(),
            Some(&["queryText", "page", "limit", "n"][..])
        );
        assert_eq!(query_fields::<Wrapped>(), query_fields::<Search>());
        assert_eq!(query_fields::<Nothing>(), Some(&[][..]));
    }

    #[test]
    fn flatten_maps_and_scalars_teach_nothing() {
        assert_eq!(query_fields::<Flattened>(), None);
        assert_eq!(query_fields::<HashMap<String, String>>(), None);
        assert_eq!(query_fields::<BTreeMap<String, u32>>(), None);
        assert_eq!(query_fields::<Vec<(String, String)>>(), None);
        assert_eq!(query_fields::<Option<Search>>(), None);
        assert_eq!(query_fields::<String>(), None);
    }

    #[test]
    fn several_extractors_key_on_the_union() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Paging {
            page: u32,
            size: u32,
        }
        assert_eq!(
            learned_query(&[query_fields::<Search>]),
            QueryPolicy::Allow(&["queryText", "page", "limit", "n"])
        );
        assert_eq!(
            learned_query(&[query_fields::<Search>, query_fields::<Paging>]),
            QueryPolicy::Allow(&["queryText", "page", "limit", "n", "size"])
        );
        assert_eq!(
            learned_query(&[query_fields::<Paging>, query_fields::<Flattened>]),
            QueryPolicy::All
        );
    }
}
