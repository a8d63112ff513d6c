; Queries written for cstpack's tests: each construct of the query language at least once.

; fields and captures on the root
(function_definition name: (identifier) @fn.name) @fn

; nested node patterns, alternation with fields
(call
  function: [
    (identifier) @call.name
    (attribute object: (identifier) @call.object attribute: (identifier) @call.method)
  ]) @call

; anonymous tokens, wildcards
(binary_operator left: (_) @lhs "+" right: _ @rhs)
["if" "else" "elif" "return"] @keyword

; negated field
(function_definition !return_type) @fn.untyped

; quantifiers
(decorated_definition (decorator)+ @decorators)
(parameters (identifier)* @params)
(class_definition name: (identifier) @class.name superclasses: (argument_list)? @bases)

; anchors
(block . (expression_statement (string) @docstring))
(argument_list . (_) @first.arg)
(argument_list (_) @last.arg .)
(dotted_name (identifier) @a . (identifier) @b)

; predicates
((identifier) @constant (#match? @constant "^[A-Z][A-Z_0-9]*$"))
((identifier) @self (#eq? @self "self"))
((identifier) @builtin (#any-of? @builtin "len" "print" "range" "isinstance"))
((identifier) @not.self (#not-eq? @not.self "self") (#not-match? @not.self "^_"))
(assignment left: (identifier) @x right: (identifier) @y (#eq? @x @y))

; sibling sequences at the top level
((comment) @comment . (function_definition) @commented.fn)
(comment)+ @comments

; errors are nodes too
(ERROR) @error
