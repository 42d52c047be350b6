//! What COMMAND DOCS says of each command: its group, a one-line summary
//! and its syntax. redis-cli reads these to show hints as one types and
//! for `help <command>`.
//!
//! The syntax is written as people read it (`key [key ...]`, `[NX|XX]`,
//! `[EX seconds|PX milliseconds]`) and [`arguments`] turns it into the
//! argument tree COMMAND DOCS replies with: brackets make an argument
//! optional and parentheses group a required one, `|` separates the
//! choices (`oneof`) of the group it is in, `...` repeats (`multiple`),
//! an upper-case word is a token, and a lower-case word an argument
//! whose type its name tells (`key`, `seconds`, `pattern`...).

/// (name, group, summary, syntax) of every command; a name `a|b` is
/// subcommand `b` of `a`.
#[rustfmt::skip]
pub const DOCS: &[(&str, &str, &str, &str)] = &[
    ("get", "string", "Returns the string value of a key.", "key"),
    ("set", "string", "Sets the string value of a key, with options for existence, expiry and the old value.", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    ("setex", "string", "Sets a string value and its time to live in seconds.", "key seconds value"),
    ("psetex", "string", "Sets a string value and its time to live in milliseconds.", "key milliseconds value"),
    ("setnx", "string", "Sets a string value only if the key does not exist.", "key value"),
    ("getset", "string", "Sets a string value and returns the old one.", "key value"),
    ("getdel", "string", "Returns a string value and deletes the key.", "key"),
    ("getex", "string", "Returns a string value and sets or removes its time to live.", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    ("append", "string", "Appends to a string value, creating it if needed.", "key value"),
    ("strlen", "string", "Returns the length of a string value.", "key"),
    ("incr", "string", "Adds one to the integer in a key.", "key"),
    ("decr", "string", "Subtracts one from the integer in a key.", "key"),
    ("incrby", "string", "Adds an integer to the integer in a key.", "key increment"),
    ("decrby", "string", "Subtracts an integer from the integer in a key.", "key decrement"),
    ("incrbyfloat", "string", "Adds a floating point number to the number in a key.", "key increment"),
    ("mget", "string", "Returns the string values of several keys.", "key [key ...]"),
    ("mset", "string", "Sets several string values.", "key value [key value ...]"),
    ("msetnx", "string", "Sets several string values only if none of the keys exists.", "key value [key value ...]"),
    ("getrange", "string", "Returns part of a string value.", "key start end"),
    ("setrange", "string", "Overwrites part of a string value from an offset.", "key offset value"),
    ("del", "generic", "Deletes keys.", "key [key ...]"),
    ("unlink", "generic", "Deletes keys (as DEL).", "key [key ...]"),
    ("exists", "generic", "Counts how many of the keys exist.", "key [key ...]"),
    ("type", "generic", "Returns the type of the value in a key.", "key"),
    ("keys", "generic", "Returns the keys matching a glob-style pattern.", "pattern"),
    ("scan", "generic", "Iterates over the keys, a few at a time.", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    ("randomkey", "generic", "Returns a random key.", ""),
    ("rename", "generic", "Renames a key, replacing any key of the new name.", "key newkey"),
    ("renamenx", "generic", "Renames a key only if the new name is free.", "key newkey"),
    ("copy", "generic", "Copies a value to another key, possibly in another database.", "source destination [DB destination-db] [REPLACE]"),
    ("move", "generic", "Moves a key to another database.", "key db"),
    ("expire", "generic", "Sets a key's time to live in seconds.", "key seconds [NX|XX|GT|LT]"),
    ("pexpire", "generic", "Sets a key's time to live in milliseconds.", "key milliseconds [NX|XX|GT|LT]"),
    ("expireat", "generic", "Sets a key's expiry as a Unix time in seconds.", "key unix-time-seconds [NX|XX|GT|LT]"),
    ("pexpireat", "generic", "Sets a key's expiry as a Unix time in milliseconds.", "key unix-time-milliseconds [NX|XX|GT|LT]"),
    ("ttl", "generic", "Returns a key's time to live in seconds.", "key"),
    ("pttl", "generic", "Returns a key's time to live in milliseconds.", "key"),
    ("persist", "generic", "Removes a key's time to live.", "key"),
    ("lpush", "list", "Prepends elements to a list, creating it if needed.", "key element [element ...]"),
    ("rpush", "list", "Appends elements to a list, creating it if needed.", "key element [element ...]"),
    ("lpop", "list", "Removes and returns elements from the head of a list.", "key [count]"),
    ("rpop", "list", "Removes and returns elements from the tail of a list.", "key [count]"),
    ("lrange", "list", "Returns a range of a list's elements.", "key start stop"),
    ("llen", "list", "Returns the length of a list.", "key"),
    ("lindex", "list", "Returns a list element by its index.", "key index"),
    ("lset", "list", "Sets a list element by its index.", "key index element"),
    ("ltrim", "list", "Keeps only a range of a list's elements.", "key start stop"),
    ("lrem", "list", "Removes occurrences of an element from a list.", "key count element"),
    ("linsert", "list", "Inserts an element before or after another in a list.", "key (BEFORE|AFTER) pivot element"),
    ("lpos", "list", "Returns the positions of an element in a list.", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    ("lmove", "list", "Moves an element from one list to another.", "source destination (LEFT|RIGHT) (LEFT|RIGHT)"),
    ("blpop", "list", "Removes the first element of the first non-empty list, waiting for one if none has any.", "key [key ...] timeout"),
    ("brpop", "list", "Removes the last element of the first non-empty list, waiting for one if none has any.", "key [key ...] timeout"),
    ("blmove", "list", "Moves an element from one list to another, waiting for one if the source is empty.", "source destination (LEFT|RIGHT) (LEFT|RIGHT) timeout"),
    ("sadd", "set", "Adds members to a set, creating it if needed.", "key member [member ...]"),
    ("srem", "set", "Removes members from a set.", "key member [member ...]"),
    ("smembers", "set", "Returns every member of a set.", "key"),
    ("sismember", "set", "Tells whether a member belongs to a set.", "key member"),
    ("smismember", "set", "Tells whether each of several members belongs to a set.", "key member [member ...]"),
    ("scard", "set", "Returns the number of members of a set.", "key"),
    ("spop", "set", "Removes and returns random members of a set.", "key [count]"),
    ("srandmember", "set", "Returns random members of a set.", "key [count]"),
    ("sinter", "set", "Returns the intersection of sets.", "key [key ...]"),
    ("sunion", "set", "Returns the union of sets.", "key [key ...]"),
    ("sdiff", "set", "Returns the members of the first set not in the others.", "key [key ...]"),
    ("sinterstore", "set", "Stores the intersection of sets in a key.", "destination key [key ...]"),
    ("sunionstore", "set", "Stores the union of sets in a key.", "destination key [key ...]"),
    ("sdiffstore", "set", "Stores the difference of sets in a key.", "destination key [key ...]"),
    ("smove", "set", "Moves a member from one set to another.", "source destination member"),
    ("sscan", "set", "Iterates over a set's members, a few at a time.", "key cursor [MATCH pattern] [COUNT count]"),
    ("hset", "hash", "Sets fields of a hash, creating it if needed.", "key field value [field value ...]"),
    ("hmset", "hash", "Sets fields of a hash (as HSET, answering OK).", "key field value [field value ...]"),
    ("hget", "hash", "Returns the value of a hash field.", "key field"),
    ("hgetall", "hash", "Returns every field and value of a hash.", "key"),
    ("hkeys", "hash", "Returns every field of a hash.", "key"),
    ("hvals", "hash", "Returns every value of a hash.", "key"),
    ("hdel", "hash", "Deletes fields from a hash.", "key field [field ...]"),
    ("hexists", "hash", "Tells whether a field exists in a hash.", "key field"),
    ("hlen", "hash", "Returns the number of fields of a hash.", "key"),
    ("hincrby", "hash", "Adds an integer to the integer in a hash field.", "key field increment"),
    ("hincrbyfloat", "hash", "Adds a floating point number to the number in a hash field.", "key field increment"),
    ("hmget", "hash", "Returns the values of several hash fields.", "key field [field ...]"),
    ("hsetnx", "hash", "Sets a hash field only if it does not exist.", "key field value"),
    ("hstrlen", "hash", "Returns the length of a hash field's value.", "key field"),
    ("hscan", "hash", "Iterates over a hash's fields and values, a few at a time.", "key cursor [MATCH pattern] [COUNT count]"),
    ("zadd", "sorted-set", "Adds members to a sorted set or updates their scores.", "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"),
    ("zrange", "sorted-set", "Returns a range of a sorted set by rank, score or member.", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    ("zrangebyscore", "sorted-set", "Returns the members of a sorted set within a score range.", "key min max [WITHSCORES] [LIMIT offset count]"),
    ("zrevrangebyscore", "sorted-set", "Returns the members within a score range, highest first.", "key max min [WITHSCORES] [LIMIT offset count]"),
    ("zrangebylex", "sorted-set", "Returns the members within a lexicographical range.", "key min max [LIMIT offset count]"),
    ("zrevrangebylex", "sorted-set", "Returns the members within a lexicographical range, last first.", "key max min [LIMIT offset count]"),
    ("zrevrange", "sorted-set", "Returns a range of a sorted set by rank, highest first.", "key start stop [WITHSCORES]"),
    ("zrank", "sorted-set", "Returns a member's rank, lowest score first.", "key member"),
    ("zrevrank", "sorted-set", "Returns a member's rank, highest score first.", "key member"),
    ("zscore", "sorted-set", "Returns a member's score.", "key member"),
    ("zmscore", "sorted-set", "Returns the scores of several members.", "key member [member ...]"),
    ("zincrby", "sorted-set", "Adds to a member's score.", "key increment member"),
    ("zrem", "sorted-set", "Removes members from a sorted set.", "key member [member ...]"),
    ("zcard", "sorted-set", "Returns the number of members of a sorted set.", "key"),
    ("zcount", "sorted-set", "Counts the members within a score range.", "key min max"),
    ("zlexcount", "sorted-set", "Counts the members within a lexicographical range.", "key min max"),
    ("zpopmin", "sorted-set", "Removes and returns the members with the lowest scores.", "key [count]"),
    ("zpopmax", "sorted-set", "Removes and returns the members with the highest scores.", "key [count]"),
    ("subscribe", "pubsub", "Listens for messages published to channels.", "channel [channel ...]"),
    ("psubscribe", "pubsub", "Listens for messages published to channels matching patterns.", "pattern [pattern ...]"),
    ("unsubscribe", "pubsub", "Stops listening to channels (all of them by default).", "[channel [channel ...]]"),
    ("punsubscribe", "pubsub", "Stops listening to patterns (all of them by default).", "[pattern [pattern ...]]"),
    ("publish", "pubsub", "Sends a message to a channel's subscribers.", "channel message"),
    ("pubsub", "pubsub", "Inspects the pub/sub state.", ""),
    ("pubsub|channels", "pubsub", "Returns the channels with subscribers.", "[pattern]"),
    ("pubsub|numsub", "pubsub", "Returns the number of subscribers of channels.", "[channel [channel ...]]"),
    ("pubsub|numpat", "pubsub", "Returns the number of patterns subscribed to.", ""),
    ("pubsub|help", "pubsub", "Describes the PUBSUB subcommands.", ""),
    ("multi", "transactions", "Starts a transaction.", ""),
    ("exec", "transactions", "Runs the commands queued since MULTI.", ""),
    ("discard", "transactions", "Discards the commands queued since MULTI.", ""),
    ("watch", "transactions", "Makes the next EXEC fail if any of the keys changes.", "key [key ...]"),
    ("unwatch", "transactions", "Forgets every watched key.", ""),
    ("ping", "connection", "Answers PONG, or the message given.", "[message]"),
    ("echo", "connection", "Returns the message given.", "message"),
    ("select", "connection", "Changes the database of the connection.", "index"),
    ("hello", "connection", "Chooses the protocol version and returns the server's particulars.", "[protover [AUTH username password] [SETNAME clientname]]"),
    ("client", "connection", "Inspects and manages client connections.", ""),
    ("client|id", "connection", "Returns the id of the connection.", ""),
    ("client|info", "connection", "Describes the connection.", ""),
    ("client|list", "connection", "Describes the open connections.", "[TYPE (NORMAL|PUBSUB)] [ID client-id [client-id ...]]"),
    ("client|kill", "connection", "Closes connections.", "(ip:port|[ID client-id] [ADDR ip:port] [LADDR ip:port] [TYPE (NORMAL|PUBSUB)] [SKIPME (YES|NO)])"),
    ("client|setname", "connection", "Names the connection.", "connection-name"),
    ("client|getname", "connection", "Returns the name of the connection.", ""),
    ("client|setinfo", "connection", "Records the client library's name or version.", "(LIB-NAME libname|LIB-VER libver)"),
    ("client|help", "connection", "Describes the CLIENT subcommands.", ""),
    ("reset", "connection", "Returns the connection to its initial state.", ""),
    ("quit", "connection", "Closes the connection.", ""),
    ("dbsize", "server", "Returns the number of keys in the database.", ""),
    ("flushdb", "server", "Deletes every key of the database.", "[ASYNC|SYNC]"),
    ("flushall", "server", "Deletes every key of every database.", "[ASYNC|SYNC]"),
    ("swapdb", "server", "Exchanges the contents of two databases.", "index1 index2"),
    ("info", "server", "Returns information and figures about the server.", "[section [section ...]]"),
    ("time", "server", "Returns the server's time.", ""),
    ("command", "server", "Describes the commands.", ""),
    ("command|count", "server", "Returns the number of commands.", ""),
    ("command|docs", "server", "Returns the documentation of commands.", "[command-name [command-name ...]]"),
    ("command|info", "server", "Describes commands.", "[command-name [command-name ...]]"),
    ("command|list", "server", "Returns the names of the commands.", ""),
    ("command|help", "server", "Describes the COMMAND subcommands.", ""),
    ("config", "server", "Reads the server's configuration.", ""),
    ("config|get", "server", "Returns the settings matching patterns.", "parameter [parameter ...]"),
    ("config|help", "server", "Describes the CONFIG subcommands.", ""),
];

/// The docs entry of a command or subcommand (lower case).
pub fn find(
    name: &str,
) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
    DOCS.iter().find(|d| d.0 == name)
}

/// The subcommands of a container command, as `command|sub`.
pub fn subcommands(
    name: &str,
) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str, &'static str)> {
    DOCS.iter()
        .filter(move |d| d.0.split_once('|').is_some_and(|(c, _)| c == name))
}

/// An argument of a command, as COMMAND DOCS describes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`,
    /// `pure-token`, `oneof` or `block`.
    pub kind: &'static str,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub children: Vec<Arg>,
}

impl Arg {
    fn leaf(word: &str) -> Arg {
        let upper = word.chars().any(|c| c.is_ascii_uppercase());
        Arg {
            name: word.to_ascii_lowercase(),
            kind: if upper { "pure-token" } else { kind_of(word) },
            token: upper.then(|| word.to_string()),
            optional: false,
            multiple: false,
            children: Vec::new(),
        }
    }

    fn group(kind: &'static str, children: Vec<Arg>) -> Arg {
        let name = children
            .iter()
            .map(|c| match &c.token {
                Some(t) => t.to_ascii_lowercase(),
                None => c.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("_");
        Arg {
            name,
            kind,
            token: None,
            optional: false,
            multiple: false,
            children,
        }
    }
}

/// An argument's type, from its name.
fn kind_of(name: &str) -> &'static str {
    match name {
        "key" | "newkey" | "source" | "destination" => "key",
        "pattern" => "pattern",
        "unix-time-seconds" | "unix-time-milliseconds" => "unix-time",
        "increment" | "score" | "min" | "max" | "timeout" => "double",
        "seconds" | "milliseconds" | "count" | "index" | "start" | "stop" | "end" | "offset"
        | "decrement" | "rank" | "num-matches" | "len" | "db" | "destination-db" | "cursor"
        | "index1" | "index2" | "client-id" | "protover" => "integer",
        _ => "string",
    }
}

/// The argument tree of a syntax line.
pub fn arguments(syntax: &str) -> Vec<Arg> {
    let spaced = syntax
        .replace('[', " [ ")
        .replace(']', " ] ")
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('|', " | ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut at = 0;
    sequence(&tokens, &mut at)
}

/// A sequence up to `]`, `)` or the end: items, or alternatives of
/// sequences separated by `|`.
fn sequence(tokens: &[&str], at: &mut usize) -> Vec<Arg> {
    let mut alternatives: Vec<Vec<Arg>> = vec![Vec::new()];
    while let Some(&t) = tokens.get(*at) {
        *at += 1;
        match t {
            "]" | ")" => break,
            "|" => alternatives.push(Vec::new()),
            "(" => {
                let inner = sequence(tokens, at);
                alternatives
                    .last_mut()
                    .expect("one at least")
                    .push(single(inner));
            }
            "[" => {
                let inner = sequence(tokens, at);
                let current = alternatives.last_mut().expect("one at least");
                if inner.last().is_some_and(|a| a.name == "...") {
                    // `x [x ...]`: the items before, repeated.
                    let repeated = inner.len() - 1;
                    if current.len() >= repeated {
                        let items: Vec<Arg> = current.drain(current.len() - repeated..).collect();
                        let mut arg = single(items);
                        arg.multiple = true;
                        current.push(arg);
                    }
                    continue;
                }
                let mut arg = single(inner);
                arg.optional = true;
                current.push(arg);
            }
            "..." => alternatives
                .last_mut()
                .expect("one at least")
                .push(Arg::leaf("...")),
            word => alternatives
                .last_mut()
                .expect("one at least")
                .push(Arg::leaf(word)),
        }
    }
    let alternatives: Vec<Vec<Arg>> = alternatives.into_iter().map(tokens_to_args).collect();
    if alternatives.len() == 1 {
        return alternatives.into_iter().next().unwrap_or_default();
    }
    vec![Arg::group(
        "oneof",
        alternatives.into_iter().map(single).collect(),
    )]
}

/// A token followed by arguments (`EX seconds`, `LIMIT offset count`)
/// becomes one argument introduced by the token.
fn tokens_to_args(items: Vec<Arg>) -> Vec<Arg> {
    match items.first() {
        Some(first)
            if first.kind == "pure-token"
                && items.len() > 1
                && items[1..].iter().all(|a| a.kind != "pure-token") =>
        {
            let token = first.token.clone();
            let mut rest: Vec<Arg> = items.into_iter().skip(1).collect();
            let mut arg = if rest.len() == 1 {
                rest.remove(0)
            } else {
                Arg::group("block", rest)
            };
            if arg.kind == "block" {
                arg.name = token.as_deref().unwrap_or_default().to_ascii_lowercase();
            }
            arg.token = token;
            vec![arg]
        }
        _ => items,
    }
}

/// One argument standing for `items`: itself, or a block.
fn single(mut items: Vec<Arg>) -> Arg {
    if items.len() == 1 {
        items.remove(0)
    } else {
        Arg::group("block", items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(args: &[Arg]) -> String {
        args.iter()
            .map(|a| {
                let mut s = match &a.token {
                    Some(t) if a.kind == "pure-token" => t.clone(),
                    Some(t) => format!("{t} {}:{}", a.name, a.kind),
                    None => format!("{}:{}", a.name, a.kind),
                };
                if !a.children.is_empty() {
                    s = format!("{s}({})", show(&a.children));
                }
                if a.optional {
                    s = format!("[{s}]");
                }
                if a.multiple {
                    s.push('*');
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn syntax_lines_become_argument_trees() {
        assert_eq!(show(&arguments("key [key ...]")), "key:key*");
        assert_eq!(
            show(&arguments("key value [key value ...]")),
            "key_value:block(key:key value:string)*"
        );
        assert_eq!(
            show(&arguments(
                "key [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]"
            )),
            "key:key [nx_xx:oneof(NX XX)] [GET] [ex_px_keepttl:oneof(EX seconds:integer PX milliseconds:integer KEEPTTL)]"
        );
        assert_eq!(
            show(&arguments("key [LIMIT offset count]")),
            "key:key [LIMIT limit:block(offset:integer count:integer)]"
        );
        assert_eq!(
            show(&arguments(
                "source destination (LEFT|RIGHT) (LEFT|RIGHT) timeout"
            )),
            "source:key destination:key left_right:oneof(LEFT RIGHT) left_right:oneof(LEFT RIGHT) timeout:double"
        );
        assert_eq!(
            show(&arguments("[channel [channel ...]]")),
            "[channel:string]*"
        );
        assert_eq!(show(&arguments("")), "");
    }
}
