//! Names from the service's code (cache, dependency, operation), interned so
//! a series key is a pointer, and bounded like the series themselves.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, RwLock};

use crate::base::hash::FastHasher;
use crate::metrics::labels::OVERFLOW_VALUE;

#[derive(Debug)]
pub(crate) struct Interner {
    limit: usize,
    names: RwLock<HashMap<Box<str>, Arc<str>, BuildHasherDefault<FastHasher>>>,
    overflow: Arc<str>,
}

impl Interner {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            names: RwLock::default(),
            overflow: OVERFLOW_VALUE.into(),
        }
    }

    /// The one `Arc` for `name`; `_OVERFLOW` once `limit` names exist.
    pub(crate) fn intern(&self, name: &str) -> Arc<str> {
        if let Some(found) = self
            .names
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Arc::clone(found);
        }
        let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = names.get(name) {
            return Arc::clone(found);
        }
        if names.len() >= self.limit {
            return Arc::clone(&self.overflow);
        }
        let interned: Arc<str> = name.into();
        names.insert(name.into(), Arc::clone(&interned));
        interned
    }
}

/// A pointer as a key part: interned names and routes live as long as their
/// `Observe`, so equal pointers mean equal names.
pub(crate) fn key_of<T: ?Sized>(value: &Arc<T>) -> usize {
    Arc::as_ptr(value).cast::<u8>() as usize
}
