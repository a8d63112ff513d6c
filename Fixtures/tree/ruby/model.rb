# frozen_string_literal: true

# Ruby fixture: modules, blocks, string interpolation, heredocs.
module Shop
  module Priceable
    def price_label
      format("%<name>s: $%<price>.2f", name: name, price: price)
    end
  end

  class Product
    include Comparable
    include Priceable

    attr_reader :name, :price, :tags

    def initialize(name, price, tags: [])
      @name = name
      @price = price.to_f
      @tags = tags.map(&:to_sym)
    end

    def <=>(other)
      price <=> other.price
    end

    def to_s
      "#<Product #{name} (#{tags.join(', ')})>"
    end
  end

  class Catalog
    include Enumerable

    def initialize
      @products = []
      yield self if block_given?
    end

    def add(name, price, **opts)
      @products << Product.new(name, price, **opts)
      self
    end

    def each(&block)
      @products.each(&block)
    end

    def report
      lines = sort.map.with_index(1) { |p, i| "#{i}. #{p.price_label}" }
      <<~TEXT
        Catalog (#{count} items)
        #{lines.join("\n")}
      TEXT
    end
  end
end

catalog = Shop::Catalog.new do |c|
  c.add('kettle', 24.5, tags: %w[kitchen])
   .add('lamp', 12, tags: %w[home light])
end

cheap = catalog.select { |p| p.price < 20 }
puts catalog.report
puts "cheap: #{cheap.map(&:name).inspect}" unless cheap.empty?
