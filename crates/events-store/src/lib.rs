//! Ad events at rest.
//!
//! - [`item`]: what one stored event is: an item keyed `{app_id}#{YYYY-MM-DD}` (the UTC day it
//!   occurred) and `{network}#{event_id}`, so that a period of one app is one query per day and
//!   the same callback stored twice is the same item;
//! - [`sink`]: events-sink, which decodes what the MSK event source delivers by the writer's
//!   schema each message names and writes it in BatchWriteItem calls;
//! - [`ports`] and [`dynamo`]: the table it writes, and its DynamoDB adapter.

pub mod dynamo;
pub mod item;
pub mod ports;
pub mod sink;
